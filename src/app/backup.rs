//! `patriot-api export` / `import`: every tenant's clients as JSON. sled's on-disk format is
//! not stable across versions, so this is how the data is backed up and moved.

use std::io::Write;
use std::path::Path;

use super::settings::DataSettings;
use crate::adapters::export_file;
use crate::adapters::sled_store::SledClientRepository;
use anyhow::{bail, Context};

fn open(data: &DataSettings) -> anyhow::Result<SledClientRepository> {
    let data_dir = &data.data_dir;
    SledClientRepository::open(data_dir, data.cache_mb << 20).map_err(|e| {
        anyhow::anyhow!(
            "cannot open the database in DATA_DIR {} (is `serve` still running?): {e}",
            data_dir.display()
        )
    })
}

/// Writes the JSON of every client to `output`, or to standard output.
pub fn export(data: &DataSettings, output: Option<&Path>) -> anyhow::Result<()> {
    if !data.data_dir.is_dir() {
        bail!("DATA_DIR {} does not exist", data.data_dir.display());
    }
    let repo = open(data)?;
    let tenants = repo
        .export_all()
        .map_err(|e| anyhow::anyhow!("cannot read the database: {e}"))?;
    let count: usize = tenants.iter().map(|(_, c)| c.len()).sum();
    let json = export_file::to_json(&tenants).map_err(|e| anyhow::anyhow!("{e}"))?;
    match output {
        Some(path) => crate::adapters::fs_xml::write_atomically(path, &json)
            .with_context(|| format!("cannot write {}", path.display()))?,
        None => std::io::stdout().lock().write_all(&json)?,
    }
    tracing::info!(clients = count, "exported");
    Ok(())
}

/// Loads an export into an empty `DATA_DIR`.
pub fn import(data: &DataSettings, input: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(input).with_context(|| format!("cannot read {}", input.display()))?;
    let tenants = export_file::from_json(&bytes)
        .map_err(|e| anyhow::anyhow!("{} is not a valid export: {e}", input.display()))?;
    let data_dir = &data.data_dir;
    std::fs::create_dir_all(data_dir)
        .with_context(|| format!("cannot create DATA_DIR {}", data_dir.display()))?;
    let repo = open(data)?;
    if !repo.is_empty().map_err(|e| anyhow::anyhow!("{e}"))? {
        bail!(
            "DATA_DIR {} already holds clients; import only into an empty one",
            data_dir.display()
        );
    }
    let count = repo
        .import_all(&tenants)
        .map_err(|e| anyhow::anyhow!("cannot write: {e}"))?;
    tracing::info!(clients = count, "imported");
    Ok(())
}
