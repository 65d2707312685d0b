//! The catalog and the rows: databases and tables (their rows and schemas are
//! [`crate::record`]'s), and WriteRecords storing what `admission` lets in.
//! Everything that changes state goes through [`Store`], which logs the change (see
//! [`crate::log`]) before applying and answering.
//!
//! Above admission and the log, which it drives; below the query engine and the server,
//! which read and change it.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::admission::{merge, Admission, Admitted};
use crate::error::Error;
use crate::log::{Entry, Log};
use crate::record::{ColumnKind, Row, RowKey, Schema, TableSettings, MAX_RECORDS_PER_CALL};
use crate::wire::RecordIn;

#[derive(Debug)]
pub struct Table {
    pub name: String,
    pub created: f64,
    pub updated: f64,
    pub settings: TableSettings,
    pub schema: Schema,
    pub rows: Vec<Row>,
    pub(crate) index: HashMap<RowKey, usize>,
    /// New when the table is created and whenever a stored row is replaced, unchanged
    /// while rows are only appended: a query snapshot of the first n rows taken in the
    /// same lineage still holds, and only the rows after them are new to it.
    pub lineage: u64,
}

/// Lineages are unique in the process, so that a table dropped and created again never
/// passes for its predecessor.
fn new_lineage() -> u64 {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

impl Table {
    fn new(name: String, created: f64, settings: TableSettings) -> Table {
        Table {
            name,
            created,
            updated: created,
            settings,
            schema: Schema::default(),
            rows: Vec::new(),
            index: HashMap::new(),
            lineage: new_lineage(),
        }
    }

    /// Every column, in the order `SELECT *` and DESCRIBE give them.
    pub fn columns(&self) -> Vec<(String, ColumnKind)> {
        self.schema.columns()
    }

    fn apply(&mut self, row: Row) {
        self.schema.learn(&row);
        match self.index.get(&row.key()) {
            Some(&i) => {
                self.rows[i] = row;
                self.lineage = new_lineage();
            }
            None => {
                self.index.insert(row.key(), self.rows.len());
                self.rows.push(row);
            }
        }
    }
}

#[derive(Debug)]
pub struct Database {
    pub name: String,
    pub created: f64,
    pub tables: BTreeMap<String, Table>,
}

/// A record Timestream did not take, with its index in the call.
#[derive(Debug, Clone, PartialEq)]
pub struct Rejected {
    pub index: usize,
    pub reason: String,
    pub existing_version: Option<i64>,
}

/// What a WriteRecords call stored.
#[derive(Debug, Default, Clone, Copy, PartialEq)]
pub struct Ingested {
    pub total: usize,
    pub memory: usize,
    pub magnetic: usize,
}

pub struct Catalog {
    pub databases: BTreeMap<String, Database>,
}

/// The catalog and its log, behind one lock: a change is logged, applied and answered
/// in the order the lock grants, so the log replays to exactly what clients were told.
pub struct Store {
    inner: Mutex<Inner>,
}

struct Inner {
    catalog: Catalog,
    log: Option<Log>,
}

impl Store {
    /// A store kept in `dir` (replaying what is there), or in memory only.
    pub fn open(dir: Option<&Path>, sync: bool) -> Result<Store, Error> {
        let mut catalog = Catalog {
            databases: BTreeMap::new(),
        };
        let log = match dir {
            Some(dir) => {
                let (log, entries) = Log::open(dir, sync)?;
                for entry in entries {
                    catalog.apply(entry);
                }
                Some(log)
            }
            None => None,
        };
        Ok(Store {
            inner: Mutex::new(Inner { catalog, log }),
        })
    }

    /// The catalog, locked: for reading.
    pub fn read(&self) -> StoreGuard<'_> {
        StoreGuard(self.lock())
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic while holding the lock cannot leave a half-applied change: changes are
        // applied after logging, by infallible code. So a poisoned lock is still sound.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn create_database(&self, name: &str, now: f64) -> Result<(), Error> {
        valid_resource_name("database", name)?;
        let mut inner = self.lock();
        if inner.catalog.databases.contains_key(name) {
            return Err(Error::Conflict(format!(
                "The database {name} already exists."
            )));
        }
        inner.commit(Entry::CreateDatabase {
            name: name.to_string(),
            created: now,
        })
    }

    pub fn delete_database(&self, name: &str) -> Result<(), Error> {
        let mut inner = self.lock();
        let database = inner.catalog.database(name)?;
        if !database.tables.is_empty() {
            return Err(Error::Validation(format!(
                "The database {name} cannot be deleted because it has tables."
            )));
        }
        inner.commit(Entry::DeleteDatabase {
            name: name.to_string(),
        })
    }

    pub fn create_table(
        &self,
        database: &str,
        name: &str,
        settings: TableSettings,
        now: f64,
    ) -> Result<(), Error> {
        valid_resource_name("table", name)?;
        valid_settings(&settings)?;
        let mut inner = self.lock();
        if inner.catalog.database(database)?.tables.contains_key(name) {
            return Err(Error::Conflict(format!("The table {name} already exists.")));
        }
        inner.commit(Entry::CreateTable {
            database: database.to_string(),
            name: name.to_string(),
            created: now,
            settings,
        })
    }

    pub fn update_table(
        &self,
        database: &str,
        name: &str,
        settings: TableSettings,
        now: f64,
    ) -> Result<(), Error> {
        valid_settings(&settings)?;
        let mut inner = self.lock();
        inner.catalog.table(database, name)?;
        inner.commit(Entry::UpdateTable {
            database: database.to_string(),
            name: name.to_string(),
            updated: now,
            settings,
        })
    }

    pub fn delete_table(&self, database: &str, name: &str) -> Result<(), Error> {
        let mut inner = self.lock();
        inner.catalog.table(database, name)?;
        inner.commit(Entry::DeleteTable {
            database: database.to_string(),
            name: name.to_string(),
        })
    }

    /// WriteRecords: each record merged with `common`, validated, and stored unless
    /// rejected. `now` is nanoseconds since the epoch.
    pub fn write(
        &self,
        database: &str,
        table: &str,
        common: Option<&RecordIn>,
        records: &[RecordIn],
        now: i64,
    ) -> Result<(Ingested, Vec<Rejected>), Error> {
        if records.is_empty() || records.len() > MAX_RECORDS_PER_CALL {
            return Err(Error::Validation(format!(
                "1 validation error detected: Value at 'records' failed to satisfy constraint: \
                 Member must have length between 1 and {MAX_RECORDS_PER_CALL}, inclusive (got {})",
                records.len()
            )));
        }
        let rows = records
            .iter()
            .map(|r| merge(common, r))
            .collect::<Result<Vec<_>, _>>()?;
        let mut inner = self.lock();
        let target = inner.catalog.table(database, table)?;
        let mut check = Admission::new(
            &target.settings,
            &target.schema,
            &target.rows,
            &target.index,
            now,
        );
        let mut ingested = Ingested::default();
        let mut rejected = Vec::new();
        let mut accepted = Vec::new();
        for (index, row) in rows.into_iter().enumerate() {
            match row.and_then(|row| check.admit(row)) {
                Ok(Admitted::Store(row, magnetic)) => {
                    if magnetic {
                        ingested.magnetic += 1;
                    } else {
                        ingested.memory += 1;
                    }
                    accepted.push(row);
                }
                Ok(Admitted::AlreadyThere) => ingested.memory += 1,
                Err((reason, existing_version)) => rejected.push(Rejected {
                    index,
                    reason,
                    existing_version,
                }),
            }
        }
        ingested.total = ingested.memory + ingested.magnetic;
        if !accepted.is_empty() {
            inner.commit(Entry::Write {
                database: database.to_string(),
                table: table.to_string(),
                rows: accepted,
            })?;
        }
        Ok((ingested, rejected))
    }
}

/// A locked view of the catalog.
pub struct StoreGuard<'a>(MutexGuard<'a, Inner>);

impl std::ops::Deref for StoreGuard<'_> {
    type Target = Catalog;
    fn deref(&self) -> &Catalog {
        &self.0.catalog
    }
}

impl Inner {
    /// Logs `entry`, then applies it: nothing is applied (or answered) that is not logged.
    fn commit(&mut self, entry: Entry) -> Result<(), Error> {
        if let Some(log) = &mut self.log {
            log.append(&entry)?;
        }
        self.catalog.apply(entry);
        Ok(())
    }
}

impl Catalog {
    pub fn database(&self, name: &str) -> Result<&Database, Error> {
        self.databases
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("The database {name} does not exist.")))
    }

    pub fn table(&self, database: &str, name: &str) -> Result<&Table, Error> {
        self.database(database)?
            .tables
            .get(name)
            .ok_or_else(|| Error::NotFound(format!("The table {name} does not exist.")))
    }

    fn apply(&mut self, entry: Entry) {
        match entry {
            Entry::CreateDatabase { name, created } => {
                self.databases.insert(
                    name.clone(),
                    Database {
                        name,
                        created,
                        tables: BTreeMap::new(),
                    },
                );
            }
            Entry::DeleteDatabase { name } => {
                self.databases.remove(&name);
            }
            Entry::CreateTable {
                database,
                name,
                created,
                settings,
            } => {
                if let Some(db) = self.databases.get_mut(&database) {
                    db.tables
                        .insert(name.clone(), Table::new(name, created, settings));
                }
            }
            Entry::UpdateTable {
                database,
                name,
                updated,
                settings,
            } => {
                if let Some(t) = self.table_mut(&database, &name) {
                    t.settings = settings;
                    t.updated = updated;
                }
            }
            Entry::DeleteTable { database, name } => {
                if let Some(db) = self.databases.get_mut(&database) {
                    db.tables.remove(&name);
                }
            }
            Entry::Write {
                database,
                table,
                rows,
            } => {
                if let Some(t) = self.table_mut(&database, &table) {
                    for row in rows {
                        t.apply(row);
                    }
                }
            }
        }
    }

    fn table_mut(&mut self, database: &str, name: &str) -> Option<&mut Table> {
        self.databases.get_mut(database)?.tables.get_mut(name)
    }
}

pub fn valid_resource_name(what: &str, name: &str) -> Result<(), Error> {
    let ok = (3..=256).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(Error::Validation(format!(
            "Invalid {what} name '{name}': it must be 3 to 256 characters of [a-zA-Z0-9_.-]"
        )))
    }
}

fn valid_settings(settings: &TableSettings) -> Result<(), Error> {
    if !(1..=8766).contains(&settings.memory_hours) {
        return Err(Error::Validation(
            "MemoryStoreRetentionPeriodInHours must be between 1 and 8766".into(),
        ));
    }
    if !(1..=73_000).contains(&settings.magnetic_days) {
        return Err(Error::Validation(
            "MagneticStoreRetentionPeriodInDays must be between 1 and 73000".into(),
        ));
    }
    Ok(())
}
