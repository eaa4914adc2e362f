//! The keys file (`KEY_FILE`): one JSON entry per API key, validated as a whole.
//!
//! The keys in force are replaced only by a file that validates completely; a broken file
//! leaves the previous keys in force.

use std::collections::HashSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::keys::{authenticate, ApiKey, KeyDigest};
use crate::domain::tenant::{KeyName, PortCode, Tenant, XmlName, XmlText};
use crate::ports::{Clock, KeyStore};

#[derive(Debug, thiserror::Error)]
pub enum KeysFileError {
    #[error("cannot read keys file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("keys file {path} is not valid: {reason}")]
    Invalid { path: PathBuf, reason: String },
}

/// One entry as written in the file.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawKey {
    key_name: String,
    #[serde(default)]
    key: Option<String>,
    #[serde(default)]
    key_sha256: Option<String>,
    #[serde(default)]
    enabled: Option<bool>,
    #[serde(default)]
    valid_to: Option<DateTime<Utc>>,
    port: String,
    installer_name: String,
    installer_email: String,
    #[serde(default)]
    xml_fields: Option<serde_json::Map<String, serde_json::Value>>,
}

fn entry(index: usize, raw: RawKey) -> Result<ApiKey, String> {
    let at =
        |field: &str, why: String| format!("entry {index} ({:?}): {field} {why}", raw.key_name);
    let key_name = KeyName::new(&raw.key_name).map_err(|e| at("key_name", e.0))?;
    let digest = match (&raw.key, &raw.key_sha256) {
        (Some(key), None) if !key.is_empty() => KeyDigest::of_secret(key),
        (None, Some(hex)) => KeyDigest::from_hex(hex)
            .ok_or_else(|| at("key_sha256", "must be 64 hexadecimal digits".into()))?,
        (Some(_), Some(_)) => {
            return Err(at("key", "and key_sha256 are both set; keep one".into()))
        }
        _ => return Err(at("key", "is required (or key_sha256)".into())),
    };
    let port = PortCode::new(&raw.port).map_err(|e| at("port", e.0))?;
    let installer_name =
        XmlText::new(&raw.installer_name).map_err(|e| at("installer_name", e.0))?;
    let installer_email =
        XmlText::new(&raw.installer_email).map_err(|e| at("installer_email", e.0))?;
    let mut xml_fields = Vec::new();
    for (name, value) in raw.xml_fields.iter().flatten() {
        let field = format!("xml_fields.{name}");
        let name = XmlName::new(name).map_err(|e| at(&field, e.0))?;
        let text = value
            .as_str()
            .ok_or_else(|| at(&field, "must be a string".into()))?;
        let text = XmlText::new(text).map_err(|e| at(&field, e.0))?;
        xml_fields.push((name, text));
    }
    Ok(ApiKey {
        digest,
        enabled: raw.enabled.unwrap_or(true),
        valid_to: raw.valid_to,
        tenant: Tenant {
            key_name,
            port,
            installer_name,
            installer_email,
            xml_fields,
        },
    })
}

/// Parses and validates a whole keys file: every entry valid, names, keys and ports unique.
pub fn parse_keys(bytes: &[u8]) -> Result<Vec<ApiKey>, String> {
    let raw: Vec<RawKey> = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
    let mut keys = Vec::with_capacity(raw.len());
    let (mut names, mut digests, mut ports) = (HashSet::new(), HashSet::new(), HashSet::new());
    for (index, raw) in raw.into_iter().enumerate() {
        let key = entry(index, raw)?;
        let name = key.tenant.key_name.as_str().to_owned();
        if !names.insert(name.clone()) {
            return Err(format!("key_name {name:?} appears twice"));
        }
        if !digests.insert(key.digest.to_hex()) {
            return Err(format!(
                "entry {index} ({name:?}): its key is used by another entry"
            ));
        }
        if !ports.insert(key.tenant.port.as_str().to_owned()) {
            return Err(format!(
                "entry {index} ({name:?}): port {:?} is used by another entry",
                key.tenant.port.as_str()
            ));
        }
        keys.push(key);
    }
    Ok(keys)
}

pub fn read_keys_file(path: &Path) -> Result<Vec<ApiKey>, KeysFileError> {
    let bytes = std::fs::read(path).map_err(|source| KeysFileError::Read {
        path: path.to_owned(),
        source,
    })?;
    parse_keys(&bytes).map_err(|reason| KeysFileError::Invalid {
        path: path.to_owned(),
        reason,
    })
}

/// The keys in force, replaced as a whole on reload.
pub struct KeysFileStore {
    path: PathBuf,
    keys: RwLock<Arc<Vec<ApiKey>>>,
    clock: Arc<dyn Clock>,
}

impl KeysFileStore {
    /// Loads the file; an invalid file is an error (the service must not start with it).
    pub fn open(path: PathBuf, clock: Arc<dyn Clock>) -> Result<Self, KeysFileError> {
        let keys = read_keys_file(&path)?;
        Ok(Self {
            path,
            keys: RwLock::new(Arc::new(keys)),
            clock,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Reads the file again; on error the keys in force stay. Returns how many keys are in force.
    pub fn reload(&self) -> Result<usize, KeysFileError> {
        let keys = read_keys_file(&self.path)?;
        let count = keys.len();
        if let Ok(mut slot) = self.keys.write() {
            *slot = Arc::new(keys);
        }
        Ok(count)
    }

    fn current(&self) -> Arc<Vec<ApiKey>> {
        match self.keys.read() {
            Ok(keys) => keys.clone(),
            // A writer never panics while holding the lock; recover the value regardless.
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

impl KeyStore for KeysFileStore {
    fn authenticate(&self, secret: &str) -> Option<Tenant> {
        authenticate(&self.current(), secret, self.clock.now()).cloned()
    }

    fn tenant(&self, key_name: &KeyName) -> Option<Tenant> {
        self.current()
            .iter()
            .find(|k| &k.tenant.key_name == key_name)
            .map(|k| k.tenant.clone())
    }
}
