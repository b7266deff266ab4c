//! Test-only: the store's tests run on both back-ends. Each test `t` has a twin `t_pg` that
//! calls it with [`open_in`] switched to a fresh PostgreSQL database (see `testkit::pg`).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

use super::{Result, Store};

thread_local! {
    static PG: Cell<bool> = const { Cell::new(false) };
    /// The database of each state directory opened on PostgreSQL by this test, so that opening
    /// it again reopens the same database.
    static DATABASES: RefCell<HashMap<PathBuf, String>> = RefCell::new(HashMap::new());
}

/// Run `test` with the store on PostgreSQL.
pub fn on_pg(test: fn()) {
    PG.set(true);
    test();
}

/// `Store::open_in` for tests: the SQLite file in `dir`, or (in a `_pg` twin) a PostgreSQL
/// database of its own. Opened on a thread of its own, since the PostgreSQL client must not
/// run inside an async test's runtime.
pub fn open_in(dir: &Path) -> Result<Store> {
    if !PG.get() {
        return Store::open_in(dir);
    }
    super::ensure_state_dir(dir)?;
    let url = DATABASES.with_borrow_mut(|m| {
        m.entry(dir.to_path_buf())
            .or_insert_with(testkit::pg::database)
            .clone()
    });
    let mut store = std::thread::scope(|s| {
        s.spawn(|| Store::open_postgres(&url, None))
            .join()
            .unwrap_or_else(|_| panic!("opening {url} panicked"))
    })?;
    store.state_dir = Some(dir.to_path_buf());
    Ok(store)
}
