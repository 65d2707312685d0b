#!/usr/bin/env bash
# Builds the connector's AWS Lambda artifact: a `bootstrap` executable for the
# provided.al2023 runtime, zipped where template.yaml's CodeUri expects it.
#
#   bash examples/lambda/build.sh [arm64|x86_64] [OUT_DIR]
#
# arm64 (the default, like the template's Architecture) builds for
# aarch64-unknown-linux-gnu, x86_64 for x86_64-unknown-linux-gnu. OUT_DIR defaults to
# target/lambda/connector, where template.yaml looks; it gets bootstrap and bootstrap.zip.
# The build leaves out Timestream Local (--no-default-features): on Lambda the connector
# only talks to Amazon Timestream. CARGO_TARGET_DIR is honoured.
#
# Cross-compiling to aarch64 on an x86_64 machine needs the Rust target and a cross C
# toolchain, which links the binary and also compiles the C parts of dependencies
# (mimalloc, aws-lc):
#   rustup target add aarch64-unknown-linux-gnu
#   apt-get install gcc-aarch64-linux-gnu        # Debian and Ubuntu
#   export CARGO_TARGET_AARCH64_UNKNOWN_LINUX_GNU_LINKER=aarch64-linux-gnu-gcc
# Alternatives: cargo-zigbuild (BUILDER=zigbuild, below), or cargo-lambda
# (`cargo lambda build --release --arm64`, which has its own output layout).
#
# glibc: provided.al2023 has glibc 2.34. A binary built against a newer glibc can need
# symbol versions that 2.34 does not have, and then fails to start on Lambda. Debian
# bookworm (and the rust:1-bookworm image) has glibc 2.36, which is newer, and so do its
# gcc-aarch64-linux-gnu cross libraries. So, for a binary that surely runs, either
#   - build in an amazonlinux:2023 container of the target architecture (on an x86_64
#     host, --platform linux/arm64 runs under QEMU emulation, which is slow):
#       docker run --rm --platform linux/arm64 -v "$PWD":/src -w /src amazonlinux:2023 bash -c '
#         dnf install -y gcc tar gzip zip binutils &&
#         curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal &&
#         . "$HOME/.cargo/env" && CARGO_TARGET_DIR=target/al2023 bash examples/lambda/build.sh arm64'
#   - or build with cargo-zigbuild (`cargo install cargo-zigbuild`, and Zig, e.g.
#     `pip install ziglang`), which links against the glibc version named in the target:
#       BUILDER=zigbuild bash examples/lambda/build.sh arm64
#     runs `cargo zigbuild --target aarch64-unknown-linux-gnu.2.34`.
# Either way, this script reads the glibc versions the binary needs (readelf) and stops
# if one is newer than 2.34.
set -euo pipefail

usage="usage: $0 [arm64|x86_64] [OUT_DIR]"
arch=${1:-arm64}
case $arch in
  arm64 | aarch64) arch=arm64 triple=aarch64-unknown-linux-gnu ;;
  x86_64 | amd64) arch=x86_64 triple=x86_64-unknown-linux-gnu ;;
  *)
    echo "$usage" >&2
    exit 2
    ;;
esac
cpu=${triple%%-*}

# The glibc of the provided.al2023 runtime.
runtime_glibc=2.34

builder=${BUILDER:-build}
case $builder in
  build) target=$triple ;;
  # cargo-zigbuild takes the glibc version as a suffix of the target.
  zigbuild) target=$triple.$runtime_glibc ;;
  *)
    echo "BUILDER must be build or zigbuild, not $builder" >&2
    exit 2
    ;;
esac

cd "$(dirname "${BASH_SOURCE[0]}")/../.."
out=${2:-target/lambda/connector}
target_dir=${CARGO_TARGET_DIR:-target}

# Fail before a long build, not after it.
if ! command -v zip >/dev/null; then
  echo "zip not found: install it (apt-get install zip, dnf install zip)" >&2
  exit 1
fi
if [[ $builder == build && $(uname -m) != "$cpu" ]]; then
  linker_var=CARGO_TARGET_$(printf '%s' "$triple" | tr '[:lower:]-' '[:upper:]_')_LINKER
  if [[ -z ${!linker_var:-} ]]; then
    echo "note: cross-compiling to $triple with $linker_var unset; if linking fails, see the top of $0" >&2
  fi
fi

cargo "$builder" --release --locked --no-default-features \
  --bin timestream-prometheus-connector --target "$target"
binary=$target_dir/$triple/release/timestream-prometheus-connector

if command -v readelf >/dev/null; then
  needed=$(readelf --version-info --wide "$binary" | grep -o 'GLIBC_[0-9][0-9.]*' | cut -d_ -f2 | sort -uV | tail -n 1 || true)
  newest=$(printf '%s\n%s\n' "${needed:-0}" "$runtime_glibc" | sort -V | tail -n 1)
  if [[ $newest != "$runtime_glibc" ]]; then
    echo "error: $binary needs glibc $needed, provided.al2023 has $runtime_glibc: build in an amazonlinux:2023 container or with BUILDER=zigbuild (see the top of $0)" >&2
    exit 1
  fi
  echo "needs glibc ${needed:-(none)}; provided.al2023 has $runtime_glibc"
else
  echo "warning: readelf not found: the glibc versions the binary needs were not checked" >&2
fi

mkdir -p "$out"
cp "$binary" "$out/bootstrap"
chmod 755 "$out/bootstrap"
# The release profile already strips symbols (Cargo.toml); this removes what the linker
# left, with a strip that knows the target's architecture.
strip_tool=
if command -v "$cpu-linux-gnu-strip" >/dev/null; then
  strip_tool=$cpu-linux-gnu-strip
elif command -v llvm-strip >/dev/null; then
  strip_tool=llvm-strip
elif [[ $(uname -m) == "$cpu" ]] && command -v strip >/dev/null; then
  strip_tool="strip"
fi
if [[ -n $strip_tool ]]; then
  "$strip_tool" "$out/bootstrap"
else
  echo "note: no strip for $cpu found; the binary keeps what the release profile left" >&2
fi

# Lambda runs the file named bootstrap at the root of the archive; zip keeps its mode.
rm -f "$out/bootstrap.zip"
(cd "$out" && zip -q -9 -X bootstrap.zip bootstrap)
unzipped=$(wc -c <"$out/bootstrap")
zipped=$(wc -c <"$out/bootstrap.zip")
echo "$out/bootstrap.zip: $((zipped / 1024)) KiB zipped, $((unzipped / 1024)) KiB unzipped ($arch, $triple)"
