//! The connection layer under the store: one API over the embedded SQLite file and a PostgreSQL
//! server, so that every query of the store is written once.
//!
//! - SQL is written with `?1`-style placeholders; for PostgreSQL they are rewritten to `$1`
//!   (outside string literals) and the prepared statement is cached per SQL text.
//! - Parameters are [`Value`]s (`params!`, or an array of anything [`ToValue`]); on PostgreSQL a
//!   value adapts to the type the server inferred for its placeholder (an integer bound where
//!   the server expects a boolean is sent as one), so binding is the same on both.
//! - Rows are read with `row.get::<_, T>(i)` through [`FromValue`]; on PostgreSQL `BIGINT`,
//!   `INTEGER`, `BOOLEAN` (as 0/1), `DOUBLE PRECISION`, `TEXT` and `BYTEA` columns are read,
//!   anything else is an error (aggregates PostgreSQL widens are cast back in SQL).
//! - Transactions are `BEGIN IMMEDIATE` on SQLite (the write lock is taken at the start, so a
//!   busy database waits instead of failing half-way) and `BEGIN` (read committed) on
//!   PostgreSQL; a [`Tx`] not committed is rolled back when dropped.
//!
//! The PostgreSQL client is the synchronous `postgres` crate: the store runs on the blocking
//! pool already (`AsyncStore`), and that client blocks on a runtime of its own, so it must never
//! be called from an async task (it would panic). Its connection is closed on a thread of its
//! own when the store is dropped, so dropping a store is safe anywhere.

use std::cell::RefCell;
use std::collections::HashMap;

use postgres::types::{IsNull, ToSql, Type};

/// Which SQL dialect a connection speaks (for the few queries that differ).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

/// An error of the connection layer.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    #[error("{}", pg_message(.0))]
    Postgres(#[from] postgres::Error),
    /// The TLS client could not be set up.
    #[error("cannot set up TLS: {0}")]
    Tls(String),
    /// The connection is closed (and could not be replaced inside a transaction).
    #[error("the connection to the database is closed")]
    Closed,
    /// A query that must return a row returned none.
    #[error("the query returned no row")]
    NoRow,
    /// A column's value is not of the type read.
    #[error("column {column}: {message}")]
    Value { column: usize, message: String },
}

/// A PostgreSQL error in one line: the server's own message (`FATAL: password authentication
/// failed for user "x"`), or the client's error with its cause (`error connecting to server:
/// Connection refused`). Neither ever holds the password.
fn pg_message(e: &postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.severity(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) if !e.to_string().contains(&cause.to_string()) => format!("{e}: {cause}"),
        _ => e.to_string(),
    }
}

impl DbError {
    /// The SQLite error code, if this is an SQLite error.
    pub fn sqlite_error_code(&self) -> Option<rusqlite::ErrorCode> {
        match self {
            DbError::Sqlite(e) => e.sqlite_error_code(),
            _ => None,
        }
    }

    pub fn conversion(column: usize, message: impl std::fmt::Display) -> Self {
        DbError::Value {
            column,
            message: message.to_string(),
        }
    }
}

pub type DbResult<T> = std::result::Result<T, DbError>;

/// A parameter value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Int(i64),
    Real(f64),
    Text(String),
    Blob(Vec<u8>),
}

/// Anything that can be bound as a parameter.
pub trait ToValue {
    fn to_value(&self) -> Value;
}

impl ToValue for Value {
    fn to_value(&self) -> Value {
        self.clone()
    }
}
impl<T: ToValue + ?Sized> ToValue for &T {
    fn to_value(&self) -> Value {
        (**self).to_value()
    }
}
impl<T: ToValue> ToValue for Option<T> {
    fn to_value(&self) -> Value {
        self.as_ref().map_or(Value::Null, ToValue::to_value)
    }
}
impl ToValue for i64 {
    fn to_value(&self) -> Value {
        Value::Int(*self)
    }
}
impl ToValue for i32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for u32 {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for bool {
    fn to_value(&self) -> Value {
        Value::Int(i64::from(*self))
    }
}
impl ToValue for f64 {
    fn to_value(&self) -> Value {
        Value::Real(*self)
    }
}
impl ToValue for str {
    fn to_value(&self) -> Value {
        Value::Text(self.to_string())
    }
}
impl ToValue for String {
    fn to_value(&self) -> Value {
        Value::Text(self.clone())
    }
}
impl ToValue for [u8] {
    fn to_value(&self) -> Value {
        Value::Blob(self.to_vec())
    }
}
impl ToValue for Vec<u8> {
    fn to_value(&self) -> Value {
        Value::Blob(self.clone())
    }
}

/// The parameters of one statement: `()`, an array of [`ToValue`]s, or `params![…]`.
pub trait Params {
    fn values(self) -> Vec<Value>;
}
impl Params for () {
    fn values(self) -> Vec<Value> {
        Vec::new()
    }
}
impl<T: ToValue, const N: usize> Params for [T; N] {
    fn values(self) -> Vec<Value> {
        self.iter().map(ToValue::to_value).collect()
    }
}
impl Params for &[Value] {
    fn values(self) -> Vec<Value> {
        self.to_vec()
    }
}

/// `params![a, b, …]`: the parameters of a statement, in placeholder order.
macro_rules! params {
    () => { () };
    ($($x:expr),+ $(,)?) => {
        [$($crate::store::db::ToValue::to_value(&$x)),+]
    };
}
pub(crate) use params;

impl rusqlite::ToSql for Value {
    fn to_sql(&self) -> rusqlite::Result<rusqlite::types::ToSqlOutput<'_>> {
        use rusqlite::types::{ToSqlOutput, ValueRef as V};
        Ok(ToSqlOutput::Borrowed(match self {
            Value::Null => V::Null,
            Value::Int(i) => V::Integer(*i),
            Value::Real(f) => V::Real(*f),
            Value::Text(s) => V::Text(s.as_bytes()),
            Value::Blob(b) => V::Blob(b),
        }))
    }
}

type BoxError = Box<dyn std::error::Error + Sync + Send>;

impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut bytes::BytesMut) -> Result<IsNull, BoxError> {
        let text = matches!(
            *ty,
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN
        );
        let refuse = |what: &str| -> Result<IsNull, BoxError> {
            Err(format!("cannot bind {what} to a parameter of type {ty}").into())
        };
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                // Exact below 2^53, which is every integer the store keeps.
                #[allow(clippy::cast_precision_loss)]
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                _ if text => i.to_string().to_sql(ty, out),
                _ => refuse("an integer"),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT8 => f.to_sql(ty, out),
                #[allow(clippy::cast_possible_truncation)]
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ if text => f.to_string().to_sql(ty, out),
                _ => refuse("a real"),
            },
            Value::Text(s) if text => s.to_sql(ty, out),
            Value::Text(_) => refuse("text"),
            Value::Blob(b) if *ty == Type::BYTEA => b.to_sql(ty, out),
            Value::Blob(_) => refuse("a blob"),
        }
    }

    fn accepts(_ty: &Type) -> bool {
        // Checked in `to_sql`, per value: a text parameter where the server expects an integer
        // is refused there with the types named.
        true
    }

    postgres::types::to_sql_checked!();
}

/// A borrowed column value.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Null,
    Int(i64),
    Real(f64),
    Text(&'a str),
    Blob(&'a [u8]),
}

impl ValueRef<'_> {
    fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Null => "NULL",
            ValueRef::Int(_) => "an integer",
            ValueRef::Real(_) => "a real",
            ValueRef::Text(_) => "text",
            ValueRef::Blob(_) => "a blob",
        }
    }
}

/// A type a column can be read as.
pub trait FromValue: Sized {
    /// `None`: the value is not of this type.
    fn from_value(v: ValueRef<'_>) -> Option<Self>;
    const NAME: &'static str;
}

impl FromValue for i64 {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Int(i) => Some(i),
            _ => None,
        }
    }
    const NAME: &'static str = "an integer";
}
impl FromValue for u32 {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        i64::from_value(v).and_then(|i| u32::try_from(i).ok())
    }
    const NAME: &'static str = "a 32-bit unsigned integer";
}
impl FromValue for bool {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        i64::from_value(v).map(|i| i != 0)
    }
    const NAME: &'static str = "a boolean (0 or 1)";
}
impl FromValue for f64 {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Real(f) => Some(f),
            #[allow(clippy::cast_precision_loss)]
            ValueRef::Int(i) => Some(i as f64),
            _ => None,
        }
    }
    const NAME: &'static str = "a real";
}
impl FromValue for String {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Text(s) => Some(s.to_string()),
            _ => None,
        }
    }
    const NAME: &'static str = "text";
}
impl FromValue for Vec<u8> {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Blob(b) => Some(b.to_vec()),
            _ => None,
        }
    }
    const NAME: &'static str = "a blob";
}
impl<T: FromValue> FromValue for Option<T> {
    fn from_value(v: ValueRef<'_>) -> Option<Self> {
        match v {
            ValueRef::Null => Some(None),
            v => T::from_value(v).map(Some),
        }
    }
    const NAME: &'static str = T::NAME;
}

/// A column index (only `usize`, so that `get(0)` infers it).
pub trait RowIndex {
    fn index(self) -> usize;
}
impl RowIndex for usize {
    fn index(self) -> usize {
        self
    }
}

/// One row of a result.
pub enum Row<'a> {
    Sqlite(&'a rusqlite::Row<'a>),
    Postgres(&'a postgres::Row),
}

impl<'a> Row<'a> {
    /// The value of column `i`, borrowed from the row.
    pub fn get_ref(&self, i: usize) -> DbResult<ValueRef<'a>> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef as V;
                Ok(match r.get_ref(i)? {
                    V::Null => ValueRef::Null,
                    V::Integer(n) => ValueRef::Int(n),
                    V::Real(f) => ValueRef::Real(f),
                    V::Text(t) => ValueRef::Text(
                        std::str::from_utf8(t).map_err(|e| DbError::conversion(i, e))?,
                    ),
                    V::Blob(b) => ValueRef::Blob(b),
                })
            }
            Row::Postgres(r) => pg_value(r, i),
        }
    }

    /// Column `i` as `T` (`I` is only there so that calls read as rusqlite's `get::<_, T>`).
    pub fn get<I: RowIndex, T: FromValue>(&self, i: I) -> DbResult<T> {
        let i = i.index();
        let v = self.get_ref(i)?;
        T::from_value(v).ok_or_else(|| {
            DbError::conversion(i, format!("expected {}, found {}", T::NAME, v.type_name()))
        })
    }

    /// Column `i` as text borrowed from the row (an error for NULL or another type).
    pub fn get_str(&self, i: usize) -> DbResult<&'a str> {
        match self.get_ref(i)? {
            ValueRef::Text(s) => Ok(s),
            v => Err(DbError::conversion(
                i,
                format!("expected text, found {}", v.type_name()),
            )),
        }
    }
}

fn pg_value<'a>(r: &'a postgres::Row, i: usize) -> DbResult<ValueRef<'a>> {
    let Some(column) = r.columns().get(i) else {
        return Err(DbError::conversion(i, "no such column"));
    };
    let ty = column.type_().clone();
    let int = |v: Option<i64>| v.map_or(ValueRef::Null, ValueRef::Int);
    Ok(match ty {
        Type::INT8 => int(r.try_get::<_, Option<i64>>(i)?),
        Type::INT4 => int(r.try_get::<_, Option<i32>>(i)?.map(i64::from)),
        Type::INT2 => int(r.try_get::<_, Option<i16>>(i)?.map(i64::from)),
        Type::BOOL => int(r.try_get::<_, Option<bool>>(i)?.map(i64::from)),
        Type::FLOAT8 => r
            .try_get::<_, Option<f64>>(i)?
            .map_or(ValueRef::Null, ValueRef::Real),
        Type::FLOAT4 => r
            .try_get::<_, Option<f32>>(i)?
            .map_or(ValueRef::Null, |f| ValueRef::Real(f64::from(f))),
        Type::BYTEA => r
            .try_get::<_, Option<&[u8]>>(i)?
            .map_or(ValueRef::Null, ValueRef::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => r
            .try_get::<_, Option<&str>>(i)?
            .map_or(ValueRef::Null, ValueRef::Text),
        other => {
            return Err(DbError::conversion(
                i,
                format!("unsupported PostgreSQL type {other} (cast it in the query)"),
            ));
        }
    })
}

/// `.optional()` on a single-row result: no row is `None`, as with rusqlite.
pub trait OptionalExtension<T> {
    fn optional(self) -> DbResult<Option<T>>;
}

impl<T> OptionalExtension<T> for DbResult<T> {
    fn optional(self) -> DbResult<Option<T>> {
        match self {
            Ok(v) => Ok(Some(v)),
            Err(DbError::NoRow) | Err(DbError::Sqlite(rusqlite::Error::QueryReturnedNoRows)) => {
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }
}

/// Opens a new PostgreSQL connection (after the server closed the previous one).
pub type Reconnect = Box<dyn FnMut() -> Result<postgres::Client, postgres::Error> + Send>;

struct Pg {
    /// `None` only while being dropped.
    client: Option<postgres::Client>,
    /// Prepared statements by the store's SQL text (placeholders rewritten).
    statements: HashMap<String, postgres::Statement>,
    reconnect: Reconnect,
    /// A transaction is open: a lost connection is never replaced in the middle of one.
    in_tx: bool,
    /// The last call met a lost connection (reset, closed, or ended by the server).
    broken: bool,
}

/// Whether an error says the connection is gone (rather than the statement failed).
fn connection_lost(e: &postgres::Error) -> bool {
    use postgres::error::SqlState;
    e.is_closed()
        || std::error::Error::source(e).is_some_and(|c| c.is::<std::io::Error>())
        || e.code().is_some_and(|c| {
            [
                SqlState::ADMIN_SHUTDOWN,
                SqlState::CRASH_SHUTDOWN,
                SqlState::CANNOT_CONNECT_NOW,
            ]
            .contains(c)
        })
}

impl Pg {
    /// The client; a connection the server closed (a restart, a failover, an idle timeout) is
    /// replaced by a new one between transactions, so a long-running daemon carries on. The
    /// call that met the closed connection has failed already; nothing is retried.
    fn client(&mut self) -> DbResult<&mut postgres::Client> {
        let closed = self.broken || self.client.as_ref().is_none_or(postgres::Client::is_closed);
        if closed && !self.in_tx {
            self.broken = false;
            let fresh = (self.reconnect)()?;
            if let Some(old) = self.client.replace(fresh) {
                let _ = std::thread::spawn(move || drop(old)).join();
            }
            self.statements.clear();
        }
        match self.client.as_mut() {
            Some(c) => Ok(c),
            None => Err(DbError::Closed),
        }
    }
}

impl Drop for Pg {
    fn drop(&mut self) {
        // The client blocks on its own runtime to close the connection, which panics inside an
        // async task: close it on a thread of its own.
        if let Some(client) = self.client.take() {
            let _ = std::thread::spawn(move || drop(client)).join();
        }
    }
}

enum Kind {
    Sqlite(rusqlite::Connection),
    Postgres(Box<RefCell<Pg>>),
}

/// A connection to the state database.
pub struct Db {
    kind: Kind,
}

impl Db {
    pub fn sqlite(conn: rusqlite::Connection) -> Self {
        conn.set_prepared_statement_cache_capacity(64);
        Db {
            kind: Kind::Sqlite(conn),
        }
    }

    pub fn postgres(client: postgres::Client, reconnect: Reconnect) -> Self {
        Db {
            kind: Kind::Postgres(Box::new(RefCell::new(Pg {
                client: Some(client),
                statements: HashMap::new(),
                reconnect,
                in_tx: false,
                broken: false,
            }))),
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self.kind {
            Kind::Sqlite(_) => Dialect::Sqlite,
            Kind::Postgres(_) => Dialect::Postgres,
        }
    }

    /// The SQLite connection, if this is one (tests of SQLite's own settings and plans).
    pub fn as_sqlite(&self) -> Option<&rusqlite::Connection> {
        match &self.kind {
            Kind::Sqlite(c) => Some(c),
            Kind::Postgres(_) => None,
        }
    }

    /// The SQLite connection (migrations, pragmas), if this is one.
    pub fn as_sqlite_mut(&mut self) -> Option<&mut rusqlite::Connection> {
        match &mut self.kind {
            Kind::Sqlite(c) => Some(c),
            Kind::Postgres(_) => None,
        }
    }

    /// Run `f` with the PostgreSQL client and the prepared statement of `sql`.
    fn with_pg<T>(
        pg: &RefCell<Pg>,
        sql: &str,
        f: impl FnOnce(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> DbResult<T> {
        let out = Self::with_pg_once(pg, sql, f);
        if let Err(DbError::Postgres(e)) = &out
            && connection_lost(e)
        {
            pg.borrow_mut().broken = true;
        }
        out
    }

    fn with_pg_once<T>(
        pg: &RefCell<Pg>,
        sql: &str,
        f: impl FnOnce(&mut postgres::Client, &postgres::Statement) -> Result<T, postgres::Error>,
    ) -> DbResult<T> {
        let mut pg = pg.borrow_mut();
        let stmt = match pg.statements.get(sql) {
            Some(s)
                if !pg.broken && !pg.client.as_ref().is_none_or(postgres::Client::is_closed) =>
            {
                s.clone()
            }
            _ => {
                let s = pg.client()?.prepare(&rewrite_placeholders(sql))?;
                pg.statements.insert(sql.to_string(), s.clone());
                s
            }
        };
        Ok(f(pg.client()?, &stmt)?)
    }

    /// Run one statement; the number of rows it changed.
    pub fn execute<P: Params>(&self, sql: &str, params: P) -> DbResult<usize> {
        let values = params.values();
        match &self.kind {
            Kind::Sqlite(c) => Ok(c
                .prepare_cached(sql)?
                .execute(rusqlite::params_from_iter(values.iter()))?),
            Kind::Postgres(pg) => {
                let n = Self::with_pg(pg, sql, |client, stmt| {
                    client.execute(stmt, &pg_params(&values))
                })?;
                Ok(usize::try_from(n).unwrap_or(usize::MAX))
            }
        }
    }

    /// Run statements without parameters (schema, transaction control).
    pub fn execute_batch(&self, sql: &str) -> DbResult<()> {
        match &self.kind {
            Kind::Sqlite(c) => Ok(c.execute_batch(sql)?),
            Kind::Postgres(pg) => {
                let mut pg = pg.borrow_mut();
                let out = pg.client()?.batch_execute(sql);
                if let Err(e) = &out
                    && connection_lost(e)
                {
                    pg.broken = true;
                }
                Ok(out?)
            }
        }
    }

    /// Call `f` on every row, in order; stops at its first error.
    /// `on_err` turns the connection's own errors into `E`.
    pub fn query_each<P: Params, E>(
        &self,
        sql: &str,
        params: P,
        on_err: impl Fn(DbError) -> E,
        mut f: impl FnMut(&Row<'_>) -> Result<(), E>,
    ) -> Result<(), E> {
        let values = params.values();
        match &self.kind {
            Kind::Sqlite(c) => {
                let err = |e: rusqlite::Error| on_err(e.into());
                let mut stmt = c.prepare_cached(sql).map_err(err)?;
                let mut rows = stmt
                    .query(rusqlite::params_from_iter(values.iter()))
                    .map_err(err)?;
                while let Some(r) = rows.next().map_err(err)? {
                    f(&Row::Sqlite(r))?;
                }
                Ok(())
            }
            Kind::Postgres(pg) => {
                let rows = Self::with_pg(pg, sql, |client, stmt| {
                    client.query(stmt, &pg_params(&values))
                })
                .map_err(&on_err)?;
                for r in &rows {
                    f(&Row::Postgres(r))?;
                }
                Ok(())
            }
        }
    }

    /// Every row, through `f`.
    pub fn query_map<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        mut f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<Vec<T>> {
        let mut out = Vec::new();
        self.query_each(
            sql,
            params,
            |e| e,
            |r| {
                out.push(f(r)?);
                Ok(())
            },
        )?;
        Ok(out)
    }

    /// The first row through `f`; [`DbError::NoRow`] when there is none (see
    /// [`OptionalExtension::optional`]).
    pub fn query_row<P: Params, T>(
        &self,
        sql: &str,
        params: P,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        let mut f = Some(f);
        let mut out = None;
        self.query_each(
            sql,
            params,
            |e| e,
            |r| {
                if let Some(f) = f.take() {
                    out = Some(f(r)?);
                }
                Ok(())
            },
        )?;
        out.ok_or(DbError::NoRow)
    }

    /// Whether the query returns a row.
    pub fn exists<P: Params>(&self, sql: &str, params: P) -> DbResult<bool> {
        self.query_row(sql, params, |_| Ok(()))
            .optional()
            .map(|r| r.is_some())
    }

    /// Same as [`Db::prepare_cached`].
    pub fn prepare<'a>(&'a self, sql: &'a str) -> DbResult<Stmt<'a>> {
        self.prepare_cached(sql)
    }

    fn set_in_tx(&self, open: bool) {
        if let Kind::Postgres(pg) = &self.kind {
            pg.borrow_mut().in_tx = open;
        }
    }

    /// A statement to run several times (its preparation is cached by SQL text either way).
    pub fn prepare_cached<'a>(&'a self, sql: &'a str) -> DbResult<Stmt<'a>> {
        Ok(Stmt { db: self, sql })
    }

    /// Start a transaction: `BEGIN IMMEDIATE` on SQLite, `BEGIN` on PostgreSQL. It is rolled
    /// back unless [`Tx::commit`] is called.
    pub fn transaction(&self) -> DbResult<Tx<'_>> {
        self.execute_batch(match self.dialect() {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        })?;
        self.set_in_tx(true);
        Ok(Tx {
            db: self,
            open: true,
        })
    }
}

fn pg_params(values: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    values.iter().map(|v| v as &(dyn ToSql + Sync)).collect()
}

/// `?N` → `$N` outside string literals and quoted identifiers.
pub fn rewrite_placeholders(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 8);
    let mut quote: Option<char> = None;
    let mut chars = sql.chars().peekable();
    while let Some(c) = chars.next() {
        match quote {
            Some(q) => {
                out.push(c);
                if c == q {
                    quote = None;
                }
            }
            None => match c {
                '\'' | '"' => {
                    quote = Some(c);
                    out.push(c);
                }
                '?' if chars.peek().is_some_and(char::is_ascii_digit) => out.push('$'),
                _ => out.push(c),
            },
        }
    }
    out
}

/// A statement of a connection, run with parameters.
pub struct Stmt<'a> {
    db: &'a Db,
    sql: &'a str,
}

impl Stmt<'_> {
    pub fn execute<P: Params>(&mut self, params: P) -> DbResult<usize> {
        self.db.execute(self.sql, params)
    }

    pub fn exists<P: Params>(&mut self, params: P) -> DbResult<bool> {
        self.db.exists(self.sql, params)
    }

    pub fn query_row<P: Params, T>(
        &mut self,
        params: P,
        f: impl FnOnce(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<T> {
        self.db.query_row(self.sql, params, f)
    }

    /// Every row through `f`, as an iterator of results (as rusqlite's `query_map`).
    pub fn query_map<P: Params, T>(
        &mut self,
        params: P,
        f: impl FnMut(&Row<'_>) -> DbResult<T>,
    ) -> DbResult<std::vec::IntoIter<DbResult<T>>> {
        let rows = self.db.query_map(self.sql, params, f)?;
        Ok(rows.into_iter().map(Ok).collect::<Vec<_>>().into_iter())
    }
}

/// An open transaction; derefs to its connection. Rolled back when dropped uncommitted.
pub struct Tx<'a> {
    db: &'a Db,
    open: bool,
}

impl Tx<'_> {
    pub fn commit(mut self) -> DbResult<()> {
        self.open = false;
        let done = self.db.execute_batch("COMMIT");
        self.db.set_in_tx(false);
        done
    }
}

impl std::ops::Deref for Tx<'_> {
    type Target = Db;
    fn deref(&self) -> &Db {
        self.db
    }
}

impl Drop for Tx<'_> {
    fn drop(&mut self) {
        if self.open {
            let _ = self.db.execute_batch("ROLLBACK");
            self.db.set_in_tx(false);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_rewritten_outside_literals() {
        assert_eq!(
            rewrite_placeholders("SELECT ?1, '?2', \"a?3\" WHERE x = ?12 AND y LIKE 'r:%'"),
            "SELECT $1, '?2', \"a?3\" WHERE x = $12 AND y LIKE 'r:%'"
        );
    }
}
