//! Prometheus' XOR chunk encoding (Gorilla compression: delta-of-delta timestamps,
//! XOR'd values) and the framing of streamed remote read responses.
//!
//! Written by hand: no maintained crate encodes Prometheus' XOR chunks, and the format is
//! small and fixed (Prometheus' `tsdb/chunkenc/xor.go`). A decoder is here too, so that
//! the encoder is tested by round trip and the tests can read streamed responses.

use bytes::{BufMut, Bytes, BytesMut};

/// Samples per chunk, as Prometheus' head cuts them.
pub const SAMPLES_PER_CHUNK: usize = 120;

/// A bit stream, most significant bit first.
#[derive(Default)]
pub(super) struct BitWriter {
    pub(super) bytes: Vec<u8>,
    /// Bits still free in the last byte.
    pub(super) free: u8,
}

impl BitWriter {
    pub(super) fn bit(&mut self, bit: bool) {
        if self.free == 0 {
            self.bytes.push(0);
            self.free = 8;
        }
        self.free -= 1;
        if bit {
            *self.bytes.last_mut().expect("a byte was pushed") |= 1 << self.free;
        }
    }

    pub(super) fn bits(&mut self, value: u64, count: u8) {
        for i in (0..count).rev() {
            self.bit((value >> i) & 1 == 1);
        }
    }

    fn byte(&mut self, b: u8) {
        self.bits(b as u64, 8);
    }
}

/// One XOR chunk being appended to.
pub struct XorChunk {
    stream: BitWriter,
    count: u16,
    t: i64,
    value: XorValue,
    t_delta: u64,
    pub min_time: i64,
    pub max_time: i64,
}

impl Default for XorChunk {
    fn default() -> Self {
        XorChunk::new()
    }
}

impl XorChunk {
    pub fn new() -> XorChunk {
        XorChunk {
            // Two bytes of sample count head the chunk.
            stream: BitWriter {
                bytes: vec![0, 0],
                free: 0,
            },
            count: 0,
            t: 0,
            value: XorValue::default(),
            t_delta: 0,
            min_time: 0,
            max_time: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.count as usize
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Encoded size so far.
    pub fn size(&self) -> usize {
        self.stream.bytes.len()
    }

    /// Appends a sample; times must not decrease.
    pub fn append(&mut self, t: i64, v: f64) {
        let bits = v.to_bits();
        match self.count {
            0 => {
                let mut buf = [0u8; 10];
                let n = put_varint(&mut buf, t);
                buf[..n].iter().for_each(|b| self.stream.byte(*b));
                self.stream.bits(bits, 64);
                self.value.bits = bits;
                self.min_time = t;
            }
            1 => {
                self.t_delta = (t - self.t) as u64;
                let mut buf = [0u8; 10];
                let n = put_uvarint(&mut buf, self.t_delta);
                buf[..n].iter().for_each(|b| self.stream.byte(*b));
                self.value.write(&mut self.stream, bits);
            }
            _ => {
                let t_delta = (t - self.t) as u64;
                let dod = t_delta.wrapping_sub(self.t_delta) as i64;
                match dod {
                    0 => self.stream.bit(false),
                    _ if fits(dod, 14) => {
                        self.stream.bits(0b10, 2);
                        self.stream.bits(dod as u64, 14);
                    }
                    _ if fits(dod, 17) => {
                        self.stream.bits(0b110, 3);
                        self.stream.bits(dod as u64, 17);
                    }
                    _ if fits(dod, 20) => {
                        self.stream.bits(0b1110, 4);
                        self.stream.bits(dod as u64, 20);
                    }
                    _ => {
                        self.stream.bits(0b1111, 4);
                        self.stream.bits(dod as u64, 64);
                    }
                }
                self.t_delta = t_delta;
                self.value.write(&mut self.stream, bits);
            }
        }
        self.t = t;
        self.max_time = t;
        self.count += 1;
        self.stream.bytes[..2].copy_from_slice(&self.count.to_be_bytes());
    }

    /// The chunk's bytes, and a fresh chunk in its place.
    pub fn take(&mut self) -> Vec<u8> {
        std::mem::take(self).stream.bytes
    }
}

/// A float written as the XOR with the one before it (Gorilla), the window of
/// meaningful bits kept between values. Histogram chunks keep one per field.
pub(super) struct XorValue {
    pub(super) bits: u64,
    leading: u8,
    trailing: u8,
}

impl Default for XorValue {
    fn default() -> Self {
        // 0xff: no window yet.
        XorValue {
            bits: 0,
            leading: 0xff,
            trailing: 0,
        }
    }
}

impl XorValue {
    pub(super) fn write(&mut self, stream: &mut BitWriter, bits: u64) {
        let delta = bits ^ self.bits;
        self.bits = bits;
        if delta == 0 {
            stream.bit(false);
            return;
        }
        stream.bit(true);
        // Five bits hold the leading-zero count, so it is capped at 31.
        let leading = (delta.leading_zeros() as u8).min(31);
        let trailing = delta.trailing_zeros() as u8;
        if self.leading != 0xff && leading >= self.leading && trailing >= self.trailing {
            stream.bit(false);
            let significant = 64 - self.leading - self.trailing;
            stream.bits(delta >> self.trailing, significant);
        } else {
            self.leading = leading;
            self.trailing = trailing;
            stream.bit(true);
            stream.bits(leading as u64, 5);
            let significant = 64 - leading - trailing;
            // 64 significant bits do not fit in six: they are written as 0.
            stream.bits(significant as u64 & 0x3f, 6);
            stream.bits(delta >> trailing, significant);
        }
    }
}

/// Whether `x` fits a two's complement field of `bits` bits as Prometheus tests it.
fn fits(x: i64, bits: u32) -> bool {
    -((1i64 << (bits - 1)) - 1) <= x && x <= 1i64 << (bits - 1)
}

fn put_uvarint(buf: &mut [u8; 10], mut x: u64) -> usize {
    let mut i = 0;
    while x >= 0x80 {
        buf[i] = x as u8 | 0x80;
        x >>= 7;
        i += 1;
    }
    buf[i] = x as u8;
    i + 1
}

fn put_varint(buf: &mut [u8; 10], x: i64) -> usize {
    put_uvarint(buf, ((x << 1) ^ (x >> 63)) as u64)
}

/// A frame of a streamed response: uvarint length, big-endian CRC32-Castagnoli of the
/// data, the data.
pub fn frame(data: &[u8]) -> Bytes {
    let mut len = [0u8; 10];
    let n = put_uvarint(&mut len, data.len() as u64);
    let mut out = BytesMut::with_capacity(n + 4 + data.len());
    out.put_slice(&len[..n]);
    out.put_u32(crc32c::crc32c(data));
    out.put_slice(data);
    out.freeze()
}

/// Why a frame or chunk could not be read.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ChunkError {
    #[error("truncated")]
    Truncated,
    #[error("CRC32C mismatch")]
    Checksum,
}

/// Splits one frame off the front of `input`: its data and the rest.
pub fn read_frame(input: &[u8]) -> Result<(&[u8], &[u8]), ChunkError> {
    let (len, n) = read_uvarint(input).ok_or(ChunkError::Truncated)?;
    let rest = &input[n..];
    // Checked: a hostile length near u64::MAX must not wrap around the comparison.
    let len = usize::try_from(len).map_err(|_| ChunkError::Truncated)?;
    if rest.len() < 4 || rest.len() - 4 < len {
        return Err(ChunkError::Truncated);
    }
    let crc = u32::from_be_bytes(rest[..4].try_into().expect("four bytes"));
    let data = &rest[4..4 + len];
    if crc32c::crc32c(data) != crc {
        return Err(ChunkError::Checksum);
    }
    Ok((data, &rest[4 + len..]))
}

fn read_uvarint(input: &[u8]) -> Option<(u64, usize)> {
    let mut x = 0u64;
    for (i, b) in input.iter().take(10).enumerate() {
        x |= ((b & 0x7f) as u64) << (7 * i);
        if b & 0x80 == 0 {
            return Some((x, i + 1));
        }
    }
    None
}

struct BitReader<'a> {
    bytes: &'a [u8],
    pos: usize,
}

impl BitReader<'_> {
    fn bit(&mut self) -> Result<bool, ChunkError> {
        let byte = self.bytes.get(self.pos / 8).ok_or(ChunkError::Truncated)?;
        let bit = byte >> (7 - self.pos % 8) & 1 == 1;
        self.pos += 1;
        Ok(bit)
    }

    fn bits(&mut self, count: u8) -> Result<u64, ChunkError> {
        let mut x = 0u64;
        for _ in 0..count {
            x = x << 1 | self.bit()? as u64;
        }
        Ok(x)
    }

    fn uvarint(&mut self) -> Result<u64, ChunkError> {
        let mut x = 0u64;
        for i in 0..10 {
            let b = self.bits(8)?;
            x |= (b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(x);
            }
        }
        Err(ChunkError::Truncated)
    }
}

/// Decodes an XOR chunk into its samples.
pub fn decode_xor(chunk: &[u8]) -> Result<Vec<(i64, f64)>, ChunkError> {
    if chunk.len() < 2 {
        return Err(ChunkError::Truncated);
    }
    let count = u16::from_be_bytes([chunk[0], chunk[1]]) as usize;
    let mut r = BitReader {
        bytes: &chunk[2..],
        pos: 0,
    };
    let mut samples = Vec::with_capacity(count);
    let (mut t, mut bits, mut t_delta) = (0i64, 0u64, 0u64);
    let (mut leading, mut trailing) = (0u8, 0u8);
    for i in 0..count {
        match i {
            0 => {
                let z = r.uvarint()?;
                t = (z >> 1) as i64 ^ -((z & 1) as i64);
                bits = r.bits(64)?;
            }
            _ => {
                if i == 1 {
                    t_delta = r.uvarint()?;
                } else {
                    let mut prefix = 0;
                    while prefix < 4 && r.bit()? {
                        prefix += 1;
                    }
                    let dod = match prefix {
                        0 => 0,
                        _ => {
                            let width = [0, 14, 17, 20, 64][prefix];
                            let raw = r.bits(width)?;
                            // The encoder's ranges reach up to +2^(width-1) (and down
                            // to -(2^(width-1) - 1)), as Prometheus' do: only above that
                            // is the raw value a negative one.
                            if width < 64 && raw > 1u64 << (width - 1) {
                                raw as i64 - (1i64 << width)
                            } else {
                                raw as i64
                            }
                        }
                    };
                    t_delta = (t_delta as i64).wrapping_add(dod) as u64;
                }
                // Wrapping, as the Go decoder's arithmetic does, so that corrupt input
                // cannot panic.
                t = t.wrapping_add(t_delta as i64);
                if r.bit()? {
                    if r.bit()? {
                        leading = r.bits(5)? as u8;
                        let significant = match r.bits(6)? as u8 {
                            0 => 64,
                            n => n,
                        };
                        // A corrupt header can claim more bits than a value has.
                        trailing = 64u8
                            .checked_sub(leading + significant)
                            .ok_or(ChunkError::Truncated)?;
                    }
                    let significant = 64 - leading - trailing;
                    bits ^= r.bits(significant)? << trailing;
                }
            }
        }
        samples.push((t, f64::from_bits(bits)));
    }
    Ok(samples)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deltas_of_deltas_at_the_edges_of_each_width_come_back() {
        // Found by the property test: +2^16 came back as -2^16.
        for dod in [
            8192, -8191, 8193, -8192, 65536, -65535, 65537, 524288, -524287, 524289,
        ] {
            round_trip(&[(0, 0.0), (97, 0.0), (194 + dod, 0.0)]);
        }
    }

    fn round_trip(samples: &[(i64, f64)]) {
        let mut chunk = XorChunk::new();
        for &(t, v) in samples {
            chunk.append(t, v);
        }
        let decoded = decode_xor(&chunk.take()).unwrap();
        assert_eq!(decoded.len(), samples.len());
        for (a, b) in decoded.iter().zip(samples) {
            assert_eq!(a.0, b.0);
            assert_eq!(a.1.to_bits(), b.1.to_bits(), "at t={}", b.0);
        }
    }

    #[test]
    fn regular_and_irregular_series_round_trip() {
        let regular: Vec<(i64, f64)> = (0..120)
            .map(|i| (1_700_000_000_000 + i * 15_000, 1.0))
            .collect();
        round_trip(&regular);
        let mut t = -5_000i64;
        let irregular: Vec<(i64, f64)> = (0..120u64)
            .map(|i| {
                // Deltas of delta across every width class, including the 64-bit one.
                t += [1, 15_000, 9_000, 70_000, 600_000, 86_400_000_000, 2][i as usize % 7];
                let v = [
                    0.0,
                    -0.0,
                    1e300,
                    f64::MIN_POSITIVE,
                    5e-324,
                    f64::NAN,
                    -1.5,
                    0.1 + 0.2,
                ][i as usize % 8];
                (t, v * (i as f64 + 1.0).sqrt())
            })
            .collect();
        round_trip(&irregular);
        round_trip(&[(0, f64::from_bits(0x7ff0_0000_0000_0002))]);
        round_trip(&[(1, 1.0), (2, f64::from_bits(1))]); // 64 significant bits
    }

    #[test]
    fn frames_carry_a_castagnoli_checksum() {
        let framed = frame(b"hello");
        assert_eq!(framed[0], 5);
        assert_eq!(&framed[1..5], &crc32c::crc32c(b"hello").to_be_bytes());
        assert_eq!(read_frame(&framed).unwrap(), (&b"hello"[..], &[][..]));
        let mut corrupt = framed.to_vec();
        corrupt[6] ^= 1;
        assert_eq!(read_frame(&corrupt), Err(ChunkError::Checksum));
        assert_eq!(read_frame(&framed[..7]), Err(ChunkError::Truncated));
    }

    #[test]
    fn known_bytes_for_a_two_sample_chunk() {
        // Count 2; zigzag varint 1000 -> 2000 = [0xd0, 0x0f]; 64 value bits of 1.0;
        // uvarint delta 10 = [0x0a]; identical value: one 0 bit.
        let mut chunk = XorChunk::new();
        chunk.append(1000, 1.0);
        chunk.append(1010, 1.0);
        let bytes = chunk.take();
        assert_eq!(bytes[..4], [0, 2, 0xd0, 0x0f]);
        assert_eq!(bytes[4..12], 1.0f64.to_bits().to_be_bytes());
        assert_eq!(bytes[12..], [0x0a, 0x00]);
    }
}
