//! The protobuf wire format at its lowest level: varints, tags and length-delimited
//! fields over a byte slice. Written by hand because the remote write decoder borrows
//! label text from the request buffer, which prost's owned types cannot do.

use super::DecodeError;

pub const VARINT: u8 = 0;
pub const FIXED64: u8 = 1;
pub const LEN: u8 = 2;
pub const FIXED32: u8 = 5;

/// A cursor over a protobuf message.
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    #[inline]
    pub fn varint(&mut self) -> Result<u64, DecodeError> {
        // Field keys and label lengths are almost always below 128: one byte.
        if let Some((&byte, rest)) = self.buf.split_first() {
            if byte < 0x80 {
                self.buf = rest;
                return Ok(u64::from(byte));
            }
        }
        let mut value = 0u64;

        for (i, &byte) in self.buf.iter().enumerate().take(10) {
            value |= u64::from(byte & 0x7f) << (7 * i);
            if byte < 0x80 {
                self.buf = &self.buf[i + 1..];
                return Ok(value);
            }
        }
        Err(if self.buf.len() < 10 {
            DecodeError::Truncated
        } else {
            DecodeError::Varint
        })
    }

    /// Reads a field key: (field number, wire type).
    #[inline]
    pub fn key(&mut self) -> Result<(u32, u8), DecodeError> {
        let key = self.varint()?;
        Ok(((key >> 3) as u32, (key & 7) as u8))
    }

    #[inline]
    pub fn fixed64(&mut self) -> Result<u64, DecodeError> {
        let (bytes, rest) = self
            .buf
            .split_first_chunk::<8>()
            .ok_or(DecodeError::Truncated)?;
        self.buf = rest;
        Ok(u64::from_le_bytes(*bytes))
    }

    #[inline]
    pub fn bytes(&mut self) -> Result<&'a [u8], DecodeError> {
        let len = self.varint()?;
        if len > self.buf.len() as u64 {
            return Err(DecodeError::Truncated);
        }
        let (field, rest) = self.buf.split_at(len as usize);
        self.buf = rest;
        Ok(field)
    }

    /// Skips a field this decoder does not read.
    pub fn skip(&mut self, wire_type: u8) -> Result<(), DecodeError> {
        match wire_type {
            VARINT => self.varint().map(drop),
            FIXED64 => self.fixed64().map(drop),
            LEN => self.bytes().map(drop),
            FIXED32 => {
                if self.buf.len() < 4 {
                    return Err(DecodeError::Truncated);
                }
                self.buf = &self.buf[4..];
                Ok(())
            }
            other => Err(DecodeError::WireType(other)),
        }
    }
}

/// Checks that `field` arrived with the wire type its schema gives it.
#[inline]
pub fn expect(field: u32, wire_type: u8, expected: u8) -> Result<(), DecodeError> {
    if wire_type == expected {
        Ok(())
    } else {
        Err(DecodeError::UnexpectedWireType {
            field,
            wire_type,
            expected,
        })
    }
}
