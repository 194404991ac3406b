//! `migrate --from FILE`: a host joining a fleet brings its SQLite history
//! into the fleet's PostgreSQL (the config's `database`), once, before its
//! timer runs against it.

use std::path::Path;

use anyhow::{Result, bail};

use crate::cli::UsageError;
use crate::config::{Config, Database};
use crate::stdout;
use crate::store::Store;

pub fn run(config: &Config, from: &Path) -> Result<()> {
    let Database::Postgres(pg) = &config.database else {
        return Err(UsageError(
            "migrate copies into a PostgreSQL database: set `database = \"postgres://…\"` \
             (and its password) in the config first"
                .into(),
        )
        .into());
    };
    if !from.is_file() {
        bail!("there is no SQLite database at {}", from.display());
    }
    let source = Store::open(from)?;
    let mut target = Store::connect(&config.database)?;
    let copied = target.copy_from(&source)?;
    let rows: Vec<String> = copied
        .iter()
        .map(|(table, n)| format!("  {table:<20} {n}"))
        .collect();
    stdout::print(&format!(
        "copied {} into {} as probe {:?}:\n{}\n",
        from.display(),
        pg.url,
        pg.fleet.probe,
        rows.join("\n")
    ))
}
