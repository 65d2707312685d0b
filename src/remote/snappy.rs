//! Snappy block format, as remote write and remote read use it (not the framed format).

use super::DecodeError;

/// Largest decoded request accepted. Prometheus' own receiver refuses far smaller bodies;
/// this leaves room for large `max_samples_per_send` settings while bounding memory.
pub const MAX_DECODED_BYTES: usize = 64 << 20;

/// The length `body` declares it decompresses to, refused past [`MAX_DECODED_BYTES`].
pub fn declared_len(body: &[u8]) -> Result<usize, DecodeError> {
    let declared =
        snap::raw::decompress_len(body).map_err(|e| DecodeError::Snappy(e.to_string()))?;
    if declared > MAX_DECODED_BYTES {
        return Err(DecodeError::TooLarge {
            declared,
            limit: MAX_DECODED_BYTES,
        });
    }
    Ok(declared)
}

/// Decompresses `body`, checking the length the header declares before allocating it,
/// so a few hostile bytes cannot make us reserve gigabytes.
pub fn decompress(body: &[u8]) -> Result<Vec<u8>, DecodeError> {
    let declared = declared_len(body)?;
    let mut out = vec![0; declared];
    let written = snap::raw::Decoder::new()
        .decompress(body, &mut out)
        .map_err(|e| DecodeError::Snappy(e.to_string()))?;
    out.truncate(written);
    Ok(out)
}

/// Compresses `data` in the block format.
pub fn compress(data: &[u8]) -> Vec<u8> {
    // Compressing into a buffer of max_compress_len cannot fail.
    snap::raw::Encoder::new()
        .compress_vec(data)
        .expect("snappy block compression of an in-memory buffer")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let data = b"hello hello hello hello".repeat(10);
        assert_eq!(decompress(&compress(&data)).unwrap(), data);
    }

    #[test]
    fn refuses_oversized_declared_length_before_allocating() {
        // A varint header declaring 1 GiB followed by nothing.
        let mut body = Vec::new();
        let mut n: u64 = 1 << 30;
        while n >= 0x80 {
            body.push((n as u8) | 0x80);
            n >>= 7;
        }
        body.push(n as u8);
        assert!(
            matches!(decompress(&body), Err(DecodeError::TooLarge { declared, .. }) if declared == 1 << 30)
        );
    }

    #[test]
    fn reports_corrupt_input() {
        assert!(matches!(
            decompress(&[0x05, 0xff, 0xff]),
            Err(DecodeError::Snappy(_))
        ));
    }
}
