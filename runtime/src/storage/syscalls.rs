//! One change to the system calls SQLite's unix VFSes make (their table is shared by every
//! SQLite connection in the process), applied once before the first object database opens: `lstat` is answered "no such file" without a syscall.
//! SQLite's only use of `lstat` is resolving symbolic links in a database's path, which it
//! does by `lstat`-ing every prefix of the path on every open (six calls for
//! `<data>/objects/<hh>/<id>.sqlite` under `/dev/shm/<dir>`, ~4 % of the CPU of bringing an
//! object back into memory, measured with `perf` on `benches/activation.sh`). The runtime
//! builds every database path itself and never makes a database file a link, so the name
//! it passes is the one SQLite would have found; a data directory reached through a link
//! still works (the kernel follows it on `open`), only SQLite's name for it stays the link.
//!
//! Owns nothing else: never changes another system call, never runs SQL.

use std::ffi::{c_char, c_int, c_void};
use std::sync::Once;

/// Applies the change (at most once per process; later calls do nothing).
pub(crate) fn tune() {
    static ONCE: Once = Once::new();
    ONCE.call_once(no_symlink_walk);
}

/// SQLite's path walk treats a prefix that does not exist as a plain name (it only looks
/// for links): "does not exist" costs nothing and leaves the name as given.
extern "C" fn lstat_not_found(_path: *const c_char, _buf: *mut c_void) -> c_int {
    errno::set_errno(errno::Errno(ENOENT));
    -1
}

/// `ENOENT` on Linux (and every other Unix SQLite's unix VFS runs on).
const ENOENT: i32 = 2;

#[allow(unsafe_code)]
fn no_symlink_walk() {
    use rusqlite::ffi;
    // SAFETY:
    // - `sqlite3_vfs_find` returns a pointer to a VFS that lives as long as the process (the
    //   built-in unix VFSes are registered once and never freed) or null, which is checked.
    // - `xSetSystemCall` of the unix VFS writes one pointer in SQLite's static table of
    //   system calls. SQLite documents it as not thread-safe: it runs before any object
    //   database opens, and another connection of the process (the results store) opening
    //   at that moment reads either the old pointer or the new one (an aligned pointer
    //   store), both valid functions of the same signature.
    // - The transmute turns `lstat_not_found` into SQLite's untyped `sqlite3_syscall_ptr`;
    //   SQLite calls it back as `int (*)(const char*, struct stat*)`, which is its type
    //   (pointer arguments are passed alike whatever they point to), and it never touches
    //   the buffer.
    unsafe {
        let vfs = ffi::sqlite3_vfs_find(c"unix-none".as_ptr());
        if vfs.is_null() {
            return;
        }
        let Some(set) = (*vfs).xSetSystemCall else {
            return;
        };
        let f = lstat_not_found as extern "C" fn(*const c_char, *mut c_void) -> c_int;
        let untyped: unsafe extern "C" fn() = std::mem::transmute(f);
        let _ = set(vfs, c"lstat".as_ptr(), Some(untyped));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn databases_open_through_a_linked_data_directory_after_the_change() {
        tune();
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        std::fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let path = link.join("a.sqlite");
        let conn = rusqlite::Connection::open(&path).unwrap();
        conn.execute_batch(
            "PRAGMA journal_mode=WAL; CREATE TABLE t (x); INSERT INTO t VALUES (7);",
        )
        .unwrap();
        drop(conn);
        assert!(real.join("a.sqlite").exists());
        let conn = rusqlite::Connection::open(real.join("a.sqlite")).unwrap();
        let x: i64 = conn.query_row("SELECT x FROM t", [], |r| r.get(0)).unwrap();
        assert_eq!(x, 7);
    }
}
