//! A fleet's PostgreSQL: connecting (the password from its own source,
//! TLS by rustls as `sslmode` says, every wait bounded), creating or
//! migrating `schema.pg.sql`, and running the store's `?N` statements as
//! PostgreSQL's `$N`, each prepared once per connection.

use std::collections::HashMap;
use std::error::Error as _;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use postgres::types::{FromSql, IsNull, ToSql, Type, to_sql_checked};
use postgres::{Client, Statement};
use rustls::RootCertStore;
use rustls::pki_types::{CertificateDer, pem::PemObject};

use super::value::{Row, Value};
use crate::config::{Postgres, SslMode};
use crate::tls_trust::{AnyCertificate, AnyName};

/// The schema `schema.pg.sql` creates; the table `schema_version` records it.
pub const PG_SCHEMA_VERSION: i64 = 3;
const SCHEMA: &str = include_str!("../../schema.pg.sql");
/// `MIGRATIONS[i]` takes a database from version `i + 1` to `i + 2`.
const MIGRATIONS: &[&str] = &[
    include_str!("../../migrations/pg/002-heartbeat.sql"),
    include_str!("../../migrations/pg/003-state-check-time.sql"),
];
/// No statement waits longer than this for a server that stopped answering
/// (connections, queries, the advisory lock each have their own bound too).
pub(super) const STATEMENT_TIMEOUT: Duration = Duration::from_secs(60);
/// Schema creation by two first runs at once is decided by this lock.
const SCHEMA_LOCK: i64 = 0x7570_6368_6563_6b00; // "upcheck\0"

/// A connection and the statements prepared on it.
pub(crate) struct Pg {
    client: Client,
    prepared: HashMap<String, Statement>,
}

/// Connects and brings the schema up to date.
pub(crate) fn connect(db: &Postgres) -> Result<Pg> {
    let mut config: postgres::Config = db.url.parse().context("reading the database URL")?;
    if let Some(source) = &db.password {
        config.password(source.read_for("database_password")?);
    }
    if config.get_connect_timeout().is_none() {
        config.connect_timeout(Duration::from_secs(10));
    }
    // A server that vanishes (its host powered off) is noticed within a
    // minute, not after the kernel's two hours; and the server notices a
    // vanished upcheck as soon, dropping the fleet's lock it held.
    config
        .keepalives(true)
        .keepalives_idle(Duration::from_secs(30))
        .tcp_user_timeout(Duration::from_secs(30));
    if config.get_application_name().is_none() {
        config.application_name("upcheck");
    }
    let ms = STATEMENT_TIMEOUT.as_millis();
    let options = format!(
        "{} -c statement_timeout={ms} -c idle_in_transaction_session_timeout={ms} \
         -c tcp_keepalives_idle=30 -c tcp_keepalives_interval=10 -c tcp_keepalives_count=3 \
         -c tcp_user_timeout=30000",
        config.get_options().unwrap_or_default()
    );
    config.options(options.trim_start());
    let client = match db.sslmode {
        SslMode::Disable => config
            .ssl_mode(postgres::config::SslMode::Disable)
            .connect(postgres::NoTls),
        mode => config
            .ssl_mode(postgres::config::SslMode::Require)
            .connect(tls(mode, db.ca_file.as_deref())?),
    };
    let client = client.map_err(|e| anyhow::anyhow!(said(&e, db.sslmode)))?;
    let mut pg = Pg {
        client,
        prepared: HashMap::new(),
    };
    // A run that hangs between statements (it never should: every step
    // after probing ends within run_timeout) still lets the fleet's lock go.
    // PostgreSQL 14 and later; an older server has no such setting.
    let idle = db.idle_limit.as_millis();
    let _ = pg.batch(&format!("SET idle_session_timeout = {idle}"));
    pg.setup().context("preparing the database's schema")?;
    Ok(pg)
}

/// The client's error with its cause, and what to change when TLS is why.
fn said(e: &postgres::Error, mode: SslMode) -> String {
    let mut text = e.to_string();
    if let Some(cause) = e.source() {
        text = format!("{text}: {cause}");
    }
    if text.contains("does not support TLS") {
        text.push_str("; add sslmode=disable to the URL to connect without TLS");
    } else if mode != SslMode::Require && text.contains("certificate") {
        text.push_str(
            "; add sslrootcert=FILE (the CA that signed it) to the URL, or sslmode=require to encrypt without checking it",
        );
    }
    text
}

fn tls(
    mode: SslMode,
    ca_file: Option<&std::path::Path>,
) -> Result<tokio_postgres_rustls::MakeRustlsConnect> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let roots = match ca_file {
        None => RootCertStore {
            roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
        },
        Some(path) => {
            let mut roots = RootCertStore::empty();
            let pem = std::fs::read(path)
                .with_context(|| format!("reading sslrootcert {}", path.display()))?;
            for cert in CertificateDer::pem_slice_iter(&pem) {
                roots.add(
                    cert.with_context(|| format!("reading sslrootcert {}", path.display()))?,
                )?;
            }
            roots
        }
    };
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()?;
    let config = match mode {
        SslMode::VerifyFull | SslMode::Disable => builder.with_root_certificates(roots),
        SslMode::VerifyCa => {
            let webpki = rustls::client::WebPkiServerVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            )
            .build()?;
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(AnyName(webpki)))
        }
        SslMode::Require if ca_file.is_some() => unreachable!("config makes it verify-ca"),
        SslMode::Require => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AnyCertificate(
                provider.signature_verification_algorithms,
            ))),
    };
    Ok(tokio_postgres_rustls::MakeRustlsConnect::new(
        config.with_no_client_auth(),
    ))
}

impl Pg {
    /// Creates the schema in an empty database or migrates an older one,
    /// under a lock so two first runs at once do it once.
    fn setup(&mut self) -> Result<()> {
        let mut tx = self.client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])?;
        let exists: bool = tx
            .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
            .get(0);
        let version: i64 = match exists {
            true => tx
                .query_one("SELECT max(version) FROM schema_version", &[])?
                .get::<_, Option<i64>>(0)
                .unwrap_or(0),
            false => 0,
        };
        if version == PG_SCHEMA_VERSION {
            return Ok(());
        }
        if version > PG_SCHEMA_VERSION {
            bail!(
                "the database has schema version {version}, newer than this upcheck understands \
                 ({PG_SCHEMA_VERSION}); it was written by a newer upcheck: upgrade upcheck"
            );
        }
        if version == 0 {
            let tables: i64 = tx
                .query_one(
                    "SELECT count(*) FROM information_schema.tables WHERE table_schema = current_schema()",
                    &[],
                )?
                .get(0);
            if tables > 0 {
                bail!(
                    "the database holds tables, but not upcheck's (no schema_version): point `database` at an empty one"
                );
            }
            tx.batch_execute(SCHEMA).context("creating the schema")?;
        } else {
            for (i, sql) in MIGRATIONS.iter().enumerate().skip(version as usize - 1) {
                tx.batch_execute(sql)
                    .with_context(|| format!("migrating to schema version {}", i + 2))?;
            }
        }
        tx.execute("DELETE FROM schema_version", &[])?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES ($1)",
            &[&PG_SCHEMA_VERSION],
        )?;
        tx.commit()?;
        Ok(())
    }

    fn statement(&mut self, sql: &str) -> Result<Statement> {
        if let Some(statement) = self.prepared.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.client.prepare(&dollar_params(sql))?;
        self.prepared.insert(sql.to_string(), statement.clone());
        Ok(statement)
    }

    pub(crate) fn execute(&mut self, sql: &str, params: &[Value]) -> Result<u64> {
        let statement = self.statement(sql)?;
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        Ok(self.client.execute(&statement, &params)?)
    }

    pub(crate) fn query(&mut self, sql: &str, params: &[Value]) -> Result<Vec<Row>> {
        let statement = self.statement(sql)?;
        let columns: std::rc::Rc<[String]> = statement
            .columns()
            .iter()
            .map(|c| c.name().to_string())
            .collect();
        let params: Vec<&(dyn ToSql + Sync)> = params.iter().map(|p| p as _).collect();
        self.client
            .query(&statement, &params)?
            .iter()
            .map(|row| {
                let values = (0..columns.len())
                    .map(|i| row.try_get::<_, Value>(i))
                    .collect::<Result<Vec<_>, _>>()?;
                Ok(Row::new(values, columns.clone()))
            })
            .collect()
    }

    pub(crate) fn batch(&mut self, sql: &str) -> Result<()> {
        Ok(self.client.batch_execute(sql)?)
    }
}

/// `?1` → `$1`, outside quoted text and comments.
fn dollar_params(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len());
    let mut chars = sql.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), _) => {}
            (None, '\'' | '"') => quote = Some(c),
            (None, '-') if chars.peek() == Some(&'-') => {
                // A comment runs to the end of its line.
                out.push(c);
                for c in chars.by_ref() {
                    out.push(c);
                    if c == '\n' {
                        break;
                    }
                }
                continue;
            }
            (None, '?') if chars.peek().is_some_and(char::is_ascii_digit) => {
                out.push('$');
                continue;
            }
            _ => {}
        }
        out.push(c);
    }
    out
}

impl ToSql for Value {
    fn to_sql(
        &self,
        ty: &Type,
        out: &mut postgres::types::private::BytesMut,
    ) -> Result<IsNull, Box<dyn std::error::Error + Sync + Send>> {
        match (self, ty) {
            (Value::Null, _) => Ok(IsNull::Yes),
            (Value::Int(n), &Type::INT8) => n.to_sql(ty, out),
            (Value::Int(n), &Type::INT4) => i32::try_from(*n)?.to_sql(ty, out),
            (Value::Int(n), &Type::INT2) => i16::try_from(*n)?.to_sql(ty, out),
            (Value::Int(n), &Type::BOOL) => (*n != 0).to_sql(ty, out),
            (Value::Int(n), &Type::FLOAT8) => (*n as f64).to_sql(ty, out),
            (Value::Int(n), &Type::TEXT) => n.to_string().to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT8) => r.to_sql(ty, out),
            (Value::Real(r), &Type::FLOAT4) => (*r as f32).to_sql(ty, out),
            (Value::Text(t), _) => t.as_str().to_sql(ty, out),
            (value, ty) => Err(format!("cannot send {value:?} as {ty}").into()),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}

impl<'a> FromSql<'a> for Value {
    fn from_sql(
        ty: &Type,
        raw: &'a [u8],
    ) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(match *ty {
            Type::INT8 => Value::Int(i64::from_sql(ty, raw)?),
            Type::INT4 => Value::Int(i32::from_sql(ty, raw)?.into()),
            Type::INT2 => Value::Int(i16::from_sql(ty, raw)?.into()),
            Type::BOOL => Value::Int(bool::from_sql(ty, raw)?.into()),
            Type::FLOAT8 => Value::Real(f64::from_sql(ty, raw)?),
            Type::FLOAT4 => Value::Real(f32::from_sql(ty, raw)?.into()),
            Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
                Value::Text(<&str>::from_sql(ty, raw)?.to_string())
            }
            // NUMERIC (a sum of BIGINTs) and the rest: a statement to cast, not bytes to guess.
            _ => return Err(format!("a value of type {ty} (cast it in the SQL)").into()),
        })
    }

    fn from_sql_null(_: &Type) -> Result<Self, Box<dyn std::error::Error + Sync + Send>> {
        Ok(Value::Null)
    }

    fn accepts(_: &Type) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::dollar_params;

    #[test]
    fn numbered_parameters_become_dollars_outside_text_and_comments() {
        assert_eq!(
            dollar_params("SELECT ?1, '?2', \"a?3\" -- ?4\n, ?12 WHERE x = ?"),
            "SELECT $1, '?2', \"a?3\" -- ?4\n, $12 WHERE x = ?"
        );
    }
}
