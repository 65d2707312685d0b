//! Persistence: every change the store accepts is appended to one log file, one JSON line
//! per change, before it is applied or answered; a restart replays the log.
//!
//! An appended line is handed to the kernel before the client hears back, so a crash of
//! the process (kill -9 included) loses nothing acknowledged; `sync` adds an fdatasync
//! per change for power loss too. A line cut short by a crash mid-append was never
//! acknowledged, and is dropped on replay.
//!
//! Above [`crate::record`] and [`crate::error`], and importing only them: entries are
//! records and settings, not the store's tables.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::Error;
use crate::record::{Row, TableSettings};

const FILE_NAME: &str = "timestream-local.log";

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Entry {
    CreateDatabase {
        name: String,
        created: f64,
    },
    DeleteDatabase {
        name: String,
    },
    CreateTable {
        database: String,
        name: String,
        created: f64,
        settings: TableSettings,
    },
    UpdateTable {
        database: String,
        name: String,
        updated: f64,
        settings: TableSettings,
    },
    DeleteTable {
        database: String,
        name: String,
    },
    Write {
        database: String,
        table: String,
        rows: Vec<Row>,
    },
}

pub struct Log {
    file: File,
    sync: bool,
    /// Bytes of whole entries: where a failed append is cut back to.
    len: u64,
    line: Vec<u8>,
}

impl Log {
    /// Opens (or creates) the log in `dir` and reads back what it holds.
    pub fn open(dir: &Path, sync: bool) -> Result<(Log, Vec<Entry>), Error> {
        std::fs::create_dir_all(dir)?;
        let path = dir.join(FILE_NAME);
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(&path)?;
        let mut entries = Vec::new();
        let mut good_bytes = 0u64;
        let mut reader = BufReader::new(&file);
        let mut line = Vec::new();
        loop {
            line.clear();
            let n = reader.read_until(b'\n', &mut line)?;
            if n == 0 {
                break;
            }
            if line.last() != Some(&b'\n') {
                // A torn final append: never acknowledged.
                break;
            }
            match serde_json::from_slice::<Entry>(&line) {
                Ok(entry) => entries.push(entry),
                Err(e) => {
                    return Err(Error::CorruptLog(format!(
                        "{} at byte {good_bytes}: {e}",
                        path.display()
                    )))
                }
            }
            good_bytes += n as u64;
        }
        drop(reader);
        if file.seek(SeekFrom::End(0))? != good_bytes {
            file.set_len(good_bytes)?;
        }
        Ok((
            Log {
                file,
                sync,
                len: good_bytes,
                line: Vec::new(),
            },
            entries,
        ))
    }

    pub fn append(&mut self, entry: &Entry) -> Result<(), Error> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, entry).map_err(std::io::Error::other)?;
        self.line.push(b'\n');
        let written = self.file.write_all(&self.line).and_then(|()| {
            if self.sync {
                self.file.sync_data()
            } else {
                Ok(())
            }
        });
        if let Err(e) = written {
            // Leave no partial line for the next append to follow.
            let _ = self.file.set_len(self.len);
            return Err(e.into());
        }
        self.len += self.line.len() as u64;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    /// The values a crash test read back a unit in the last place off after restarts,
    /// before the log's JSON parser was made exact (`float_roundtrip`).
    #[test]
    fn doubles_read_back_from_the_log_bit_for_bit() {
        for bits in [
            4_580_124_295_329_606_983_u64,
            4_745_320_056_180_941_535,
            4_611_688_575_854_983_102,
            1,
            f64::MAX.to_bits(),
        ] {
            let value = f64::from_bits(bits);
            let text = serde_json::to_string(&value).unwrap();
            let back: f64 = serde_json::from_str(&text).unwrap();
            assert_eq!(back.to_bits(), bits, "{text}");
        }
    }
}
