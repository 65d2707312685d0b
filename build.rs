//! Compiles proto/ with protox, a protobuf compiler written in Rust, so that building
//! needs no `protoc` binary on the machine.

fn main() -> Result<(), Box<dyn std::error::Error>> {
    println!("cargo:rerun-if-changed=proto");
    let descriptors = protox::compile(
        [
            "remote.proto",
            "types.proto",
            "metrics.proto",
            "write_v2.proto",
        ],
        ["proto"],
    )?;
    prost_build::Config::new().compile_fds(descriptors)?;
    Ok(())
}
