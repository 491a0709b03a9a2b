//! Groups of runs in the results store: a `compare` of strategies (or a shard sweep, with its
//! best strategy and its answer in words) or a `repeat` of one plan, and run labels. Reads
//! and writes rows of `compare_groups` and `runs.label`; never deletes a run or a group.

use rusqlite::{params, OptionalExtension};

use crate::error::{Error, Result};
use crate::model::GroupKind;
use crate::store::{now_ms, Store};

impl Store {
    /// Starts a compare group for `profile`; pass its id in each run's
    /// [`RunMeta::compare_group`].
    pub fn create_compare_group(&self, profile: &str) -> Result<String> {
        self.create_group(profile, GroupKind::Compare)
    }

    /// Starts a group of `kind` for `profile` (`cmp-...` or `rep-...`); pass its id in each
    /// run's [`RunMeta::compare_group`].
    pub fn create_group(&self, profile: &str, kind: GroupKind) -> Result<String> {
        let now = now_ms();
        let prefix = match kind {
            GroupKind::Compare => "cmp",
            GroupKind::Repeat => "rep",
        };
        let id = format!("{prefix}-{}", dobench_loadgen::summary::new_run_id(now));
        self.conn.execute(
            "INSERT INTO compare_groups (id, created_ms, profile, kind) VALUES (?1, ?2, ?3, ?4)",
            params![id, now as i64, profile, kind.as_str()],
        )?;
        Ok(id)
    }

    /// Records a compare group's answer in words (a shard sweep's one line).
    pub fn set_compare_answer(&self, group: &str, answer: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE compare_groups SET answer = ?2 WHERE id = ?1",
            params![group, answer],
        )?;
        if n == 0 {
            return Err(Error::NoSuchRun(group.to_string()));
        }
        Ok(())
    }

    /// The recorded answer of a compare group, if any.
    pub fn compare_answer(&self, group: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT answer FROM compare_groups WHERE id = ?1",
                [group],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }

    /// Records which strategy won a compare group.
    pub fn set_compare_best(&self, group: &str, strategy: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE compare_groups SET best = ?2 WHERE id = ?1",
            params![group, strategy],
        )?;
        if n == 0 {
            return Err(Error::NoSuchRun(group.to_string()));
        }
        Ok(())
    }

    /// The recorded best strategy of a compare group, if any.
    pub fn compare_best(&self, group: &str) -> Result<Option<String>> {
        Ok(self
            .conn
            .query_row(
                "SELECT best FROM compare_groups WHERE id = ?1",
                [group],
                |r| r.get(0),
            )
            .optional()?
            .flatten())
    }
    /// The runs of group `group`, oldest first (empty when there is no such group).
    pub fn group_runs(&self, group: &str) -> Result<Vec<String>> {
        let mut stmt = self
            .conn
            .prepare("SELECT id FROM runs WHERE compare_group = ?1 ORDER BY started_ms, id")?;
        let ids = stmt
            .query_map([group], |r| r.get(0))?
            .collect::<rusqlite::Result<_>>()?;
        Ok(ids)
    }

    /// What kind of group `group` is.
    pub fn group_kind(&self, group: &str) -> Result<GroupKind> {
        let kind: Option<String> = self
            .conn
            .query_row(
                "SELECT kind FROM compare_groups WHERE id = ?1",
                [group],
                |r| r.get(0),
            )
            .optional()?;
        kind.map(|k| GroupKind::parse(&k))
            .ok_or_else(|| Error::NoSuchRun(group.to_string()))
    }

    /// Names run `id` (`--label`); the newest run with a label is the one it resolves to.
    pub fn set_label(&self, id: &str, label: &str) -> Result<()> {
        let n = self.conn.execute(
            "UPDATE runs SET label = ?2 WHERE id = ?1",
            params![id, label],
        )?;
        if n == 0 {
            return Err(Error::NoSuchRun(id.to_string()));
        }
        Ok(())
    }
}
