//! Bodies that prost will not make: broken snappy, hand-made protobuf, bombs.

use super::*;

// Bodies.

/// A valid remote write body, for the cases whose headers are wrong.
pub(super) fn valid_write() -> Vec<u8> {
    let request = proto::WriteRequest {
        timeseries: vec![series(
            &[("__name__", "hostile_headers"), ("job", "hostile")],
            &[(T0, 1.0)],
        )],
        metadata: vec![],
    };
    snappy::compress(&request.encode_to_vec())
}

/// Bytes that are not snappy: the header declares 71 bytes ('G'), and the first tag
/// ('A') copies from before the start of the output. Then 4 KiB of noise.
pub(super) fn not_snappy() -> Vec<u8> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let noise = (0..4096).map(|_| {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        (state >> 24) as u8
    });
    b"GARBAGE".iter().copied().chain(noise).collect()
}

/// A snappy block whose header declares `declared` decoded bytes, followed by `rest`.
pub(super) fn snappy_claiming(declared: u64, rest: &[u8]) -> Vec<u8> {
    pb().varint(declared).raw(rest).bytes()
}

/// A WriteRequest with one series: a metric name, the label `name`=`value` as raw bytes,
/// and one sample.
pub(super) fn one_raw_series(name: &[u8], value: &[u8]) -> Vec<u8> {
    pb_write(&[pb_series(
        &[
            pb_label(b"__name__", b"hostile_utf8"),
            pb_label(name, value),
        ],
        &[pb_sample(1.0, T0)],
    )])
}

/// A ReadRequest whose one matcher has bytes that are not UTF-8 as its value.
pub(super) fn read_with_invalid_utf8() -> Vec<u8> {
    let matcher = pb()
        .uint(1, 0)
        .len_field(2, b"__name__")
        .len_field(3, b"\xff\xfe")
        .bytes();
    let query = pb()
        .uint(1, START as u64)
        .uint(2, END as u64)
        .len_field(3, &matcher)
        .bytes();
    snappy::compress(&pb().len_field(1, &query).bytes())
}

/// A series with its name and 4,999 other labels.
pub(super) fn five_thousand_labels() -> proto::TimeSeries {
    let names: Vec<String> = (0..4_999).map(|i| format!("l{i:04}")).collect();
    let mut labels = vec![("__name__", "hostile_5000_labels")];
    labels.extend(names.iter().map(|name| (name.as_str(), "v")));
    series(&labels, &[(T0, 1.0)])
}

/// An alternation of 6,400 names, about 100 KB, that matches `hostile_target`.
pub(super) fn long_regex() -> String {
    let mut regex: String = (0..6_400).map(|i| format!("hostile_x{i:06}|")).collect();
    regex.push_str("hostile_target");
    regex
}

/// One event with a million metrics (about 20 MB of JSON).
pub(super) fn million_metrics() -> Vec<u8> {
    use std::fmt::Write;
    let mut body = String::with_capacity(24 << 20);
    write!(
        body,
        r#"{{"dimensions": {{"job": "hostile"}}, "timestamp": {T0}, "metrics": {{"#
    )
    .unwrap();
    for i in 0..1_000_000 {
        if i > 0 {
            body.push(',');
        }
        write!(body, r#""hostile_m{i:07}": {i}"#).unwrap();
    }
    body.push_str("}}");
    body.into_bytes()
}

/// A gzip member of 430 KB that inflates to 65 MiB of zeros, past what a push may
/// inflate to. Built by hand (compressing 65 MiB takes seconds in a debug build): one
/// fixed-Huffman deflate block of a literal 0 and then 264,177 copies of 258 bytes at
/// distance 1, 13 bits each; the trailer's CRC-32 and size are those of the zeros.
pub(super) fn gzip_bomb() -> Vec<u8> {
    const COPIES: usize = 264_177;
    const INFLATED: u32 = 68_157_667; // 1 + 258 × COPIES
    const CRC32: u32 = 0xbf96_fb69; // of INFLATED zero bytes
    const _: () = assert!(INFLATED as usize > MAX_PUSH_DECODED_BYTES);
    let mut bits = Bits::default();
    bits.put(1, 1); // BFINAL
    bits.put(1, 2); // BTYPE 01: fixed Huffman codes

    // Huffman codes go most significant bit first: reversed for this LSB-first writer.
    bits.put(u64::from(0x30u8.reverse_bits()), 8); // literal 0: 0x30 + 0, 8 bits
    for _ in 0..COPIES {
        bits.put(u64::from(0xc5u8.reverse_bits()), 8); // length 258: symbol 285
        bits.put(0, 5); // distance 1: code 0
    }
    bits.put(0, 7); // end of block: symbol 256
    let mut body = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff];
    body.extend(bits.finish());
    body.extend(CRC32.to_le_bytes());
    body.extend(INFLATED.to_le_bytes());
    body
}

/// Bits written least significant first, as deflate packs them.
#[derive(Default)]
pub(super) struct Bits {
    out: Vec<u8>,
    pending: u64,
    count: u32,
}

impl Bits {
    pub(super) fn put(&mut self, value: u64, bits: u32) {
        self.pending |= value << self.count;
        self.count += bits;
        while self.count >= 8 {
            self.out.push(self.pending as u8);
            self.pending >>= 8;
            self.count -= 8;
        }
    }

    pub(super) fn finish(mut self) -> Vec<u8> {
        if self.count > 0 {
            self.out.push(self.pending as u8);
        }
        self.out
    }
}

// Protobuf by hand, for what prost will not encode: wrong wire types, truncated or
// overlong varints, label text that is not UTF-8.

#[derive(Default)]
pub(super) struct Pb(Vec<u8>);

pub(super) fn pb() -> Pb {
    Pb::default()
}

impl Pb {
    pub(super) fn varint(mut self, mut value: u64) -> Pb {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
        self
    }

    pub(super) fn key(self, field: u32, wire_type: u8) -> Pb {
        self.varint((u64::from(field) << 3) | u64::from(wire_type))
    }

    pub(super) fn uint(self, field: u32, value: u64) -> Pb {
        self.key(field, 0).varint(value)
    }

    pub(super) fn fixed64(self, field: u32, value: u64) -> Pb {
        self.key(field, 1).raw(&value.to_le_bytes())
    }

    pub(super) fn len_field(self, field: u32, data: &[u8]) -> Pb {
        self.key(field, 2).varint(data.len() as u64).raw(data)
    }

    pub(super) fn raw(mut self, data: &[u8]) -> Pb {
        self.0.extend_from_slice(data);
        self
    }

    pub(super) fn bytes(self) -> Vec<u8> {
        self.0
    }
}

/// prometheus.Label
pub(super) fn pb_label(name: &[u8], value: &[u8]) -> Vec<u8> {
    pb().len_field(1, name).len_field(2, value).bytes()
}

/// prometheus.Sample
pub(super) fn pb_sample(value: f64, timestamp_ms: i64) -> Vec<u8> {
    pb().fixed64(1, value.to_bits())
        .uint(2, timestamp_ms as u64)
        .bytes()
}

/// prometheus.TimeSeries
pub(super) fn pb_series(labels: &[Vec<u8>], samples: &[Vec<u8>]) -> Vec<u8> {
    let with_labels = labels.iter().fold(pb(), |s, label| s.len_field(1, label));
    samples
        .iter()
        .fold(with_labels, |s, sample| s.len_field(2, sample))
        .bytes()
}

/// prometheus.WriteRequest
pub(super) fn pb_write(series: &[Vec<u8>]) -> Vec<u8> {
    series
        .iter()
        .fold(pb(), |request, s| request.len_field(1, s))
        .bytes()
}
