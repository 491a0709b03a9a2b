//! Brings a results database to the schema this build writes: creates `schema_version`,
//! applies the missing steps of [`crate::schema::MIGRATIONS`] in one transaction, and refuses
//! a database from a newer dobench. Never drops user data and never downgrades.

use rusqlite::{Connection, OptionalExtension};

use crate::error::{Error, Result};
use crate::schema::MIGRATIONS;

/// The schema version this build reads and writes.
pub const SCHEMA_VERSION: i64 = MIGRATIONS.len() as i64;

/// The database's schema version (0 for a fresh file).
pub fn version(conn: &Connection) -> Result<i64> {
    let has_table: Option<i64> = conn
        .query_row(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
            [],
            |r| r.get(0),
        )
        .optional()?;
    if has_table.is_none() {
        return Ok(0);
    }
    Ok(conn.query_row(
        "SELECT COALESCE(MAX(version), 0) FROM schema_version",
        [],
        |r| r.get(0),
    )?)
}

/// Migrates `conn` up to `target` (normally [`SCHEMA_VERSION`]); `path` names the file in
/// errors. Returns the version found before migrating.
pub fn migrate_to(conn: &mut Connection, path: &str, target: i64) -> Result<i64> {
    let found = version(conn)?;
    if found > SCHEMA_VERSION {
        return Err(Error::SchemaTooNew {
            path: path.to_string(),
            found,
            supported: SCHEMA_VERSION,
        });
    }
    if found >= target {
        return Ok(found);
    }
    let tx = conn.transaction()?;
    tx.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    for step in &MIGRATIONS[found as usize..target as usize] {
        tx.execute_batch(step)?;
    }
    tx.execute("DELETE FROM schema_version", [])?;
    tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [target])?;
    tx.commit()?;
    Ok(found)
}
