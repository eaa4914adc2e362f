//! The keys file (`KEY_FILE`): one JSON entry per API key, validated as a whole.
//!
//! The keys in force are replaced only by a file that validates completely; a broken file
//! leaves the previous keys in force.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use serde::Deserialize;

use crate::domain::keys::{authenticate, check_unambiguous, ApiKey, KeyDigest};
use crate::domain::tenant::{KeyName, PortCode, Tenant, XmlName, XmlText};
use crate::ports::{Clock, KeyStore};

#[derive(Debug, thiserror::Error)]
pub enum KeysFileError {
    #[error("cannot read keys file {path}")]
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
    valid_to: Option<String>,
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
        (Some(key), None) => KeyDigest::of_presentable_secret(key).map_err(|e| at("key", e))?,
        (None, Some(hex)) => KeyDigest::from_hex(hex)
            .ok_or_else(|| at("key_sha256", "must be 64 hexadecimal digits".into()))?,
        (Some(_), Some(_)) => {
            return Err(at("key", "and key_sha256 are both set; keep one".into()))
        }
        _ => return Err(at("key", "is required (or key_sha256)".into())),
    };
    let valid_to = match &raw.valid_to {
        None => None,
        Some(text) => Some(
            DateTime::parse_from_rfc3339(text)
                .map_err(|e| at("valid_to", format!("must be an RFC 3339 time: {e}")))?
                .with_timezone(&Utc),
        ),
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
        valid_to,
        tenant: Arc::new(Tenant {
            key_name,
            port,
            installer_name,
            installer_email,
            xml_fields,
        }),
    })
}

/// Parses and validates a whole keys file: every entry valid, names, keys and ports unique.
pub fn parse_keys(bytes: &[u8]) -> Result<Vec<ApiKey>, String> {
    let entries: Vec<serde_json::Value> = match crate::adapters::strict_value::from_slice(bytes) {
        Ok(serde_json::Value::Array(entries)) => entries,
        Ok(_) => return Err("must be a JSON array of key entries".into()),
        Err(e) => return Err(format!("must be a JSON array of key entries: {e}")),
    };
    let mut keys = Vec::with_capacity(entries.len());
    for (index, value) in entries.into_iter().enumerate() {
        let raw: RawKey =
            serde_json::from_value(value).map_err(|e| format!("entry {index}: {e}"))?;
        keys.push(entry(index, raw)?);
    }
    check_unambiguous(&keys)?;
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
    fn authenticate(&self, secret: &str) -> Option<Arc<Tenant>> {
        authenticate(&self.current(), secret, self.clock.now()).cloned()
    }

    fn tenant(&self, key_name: &KeyName) -> Option<Tenant> {
        self.current()
            .iter()
            .find(|k| &k.tenant.key_name == key_name)
            .map(|k| Tenant::clone(&k.tenant))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<Vec<ApiKey>, String> {
        parse_keys(json.as_bytes())
    }

    const ONE: &str = r#"{"key_name": "A", "key": "k1", "port": "P1", "installer_name": "I", "installer_email": "i@i.no"}"#;

    #[test]
    fn a_minimal_entry_has_the_documented_defaults() {
        let keys = parse(&format!("[{ONE}]")).unwrap();
        assert!(keys[0].enabled);
        assert_eq!(keys[0].valid_to, None);
        assert!(keys[0].tenant.xml_fields.is_empty());
    }

    #[test]
    fn xml_fields_keep_their_order() {
        let keys = parse(r#"[{"key_name": "A", "key": "k", "port": "P", "installer_name": "I", "installer_email": "e",
            "xml_fields": {"Zeta": "1", "Alpha": "2", "Mid": "3"}}]"#)
        .unwrap();
        let names: Vec<&str> = keys[0]
            .tenant
            .xml_fields
            .iter()
            .map(|(n, _)| n.as_str())
            .collect();
        assert_eq!(names, ["Zeta", "Alpha", "Mid"]);
    }

    #[test]
    fn invalid_files_are_refused_with_the_reason() {
        let cases = [
            ("not json", "expected"),
            (
                r#"[{"key_name": "A", "port": "P", "installer_name": "I", "installer_email": "e"}]"#,
                "key",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "key_sha256": "00", "port": "P", "installer_name": "I", "installer_email": "e"}]"#,
                "both",
            ),
            (
                r#"[{"key_name": "A", "key_sha256": "zz", "port": "P", "installer_name": "I", "installer_email": "e"}]"#,
                "key_sha256",
            ),
            (
                r#"[{"key_name": "A b", "key": "k", "port": "P", "installer_name": "I", "installer_email": "e"}]"#,
                "key_name",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "port": "P-1", "installer_name": "I", "installer_email": "e"}]"#,
                "port",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "port": "P", "installer_email": "e"}]"#,
                "installer_name",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "port": "P", "installer_name": "I", "installer_email": "e", "valid_to": "tomorrow"}]"#,
                "valid_to",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "port": "P", "installer_name": "I", "installer_email": "e", "xml_fields": {"a b": "x"}}]"#,
                "a b",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "port": "P", "installer_name": "I", "installer_email": "e", "xml_fields": {"X": 1}}]"#,
                "string",
            ),
            (
                r#"[{"key_name": "A", "key": "k", "port": "P", "installer_name": "I", "installer_email": "e", "extra": 1}]"#,
                "extra",
            ),
        ];
        for (json, expected) in cases {
            let err = parse(json)
                .err()
                .unwrap_or_else(|| panic!("accepted {json}"));
            assert!(err.contains(expected), "{json}: {err}");
        }
        // Two entries that cannot both stand: the message names both.
        let two = |a: &str, b: &str| format!("[{a}, {b}]");
        let entry = |name: &str, key: &str, port: &str| {
            format!(
                r#"{{"key_name": "{name}", "key": "{key}", "port": "{port}", "installer_name": "I", "installer_email": "e"}}"#
            )
        };
        let digest = KeyDigest::of_secret("k1").to_hex();
        let hashed = format!(
            r#"{{"key_name": "B", "key_sha256": "{digest}", "port": "P2", "installer_name": "I", "installer_email": "e"}}"#
        );
        for (json, expected) in [
            (
                two(&entry("A", "k1", "P1"), &entry("A", "k2", "P2")),
                r#"key_name "A" and "A""#,
            ),
            (
                two(&entry("Tenant", "k1", "P1"), &entry("tenant", "k2", "P2")),
                r#"key_name "Tenant" and "tenant", which differ only in case"#,
            ),
            (
                two(&entry("A", "k1", "P1"), &entry("B", "k1", "P2")),
                "the same key",
            ),
            (two(&entry("A", "k1", "P1"), &hashed), "the same key"),
            (
                two(&entry("A", "k1", "P1"), &entry("B", "k2", "P1")),
                r#"port "P1" and "P1""#,
            ),
            (
                two(&entry("A", "k1", "base1"), &entry("B", "k2", "BASE1")),
                r#"port "base1" and "BASE1", which differ only in case"#,
            ),
        ] {
            let err = parse(&json).unwrap_err();
            assert!(
                err.contains(r#"entry 0 ("A")"#) || err.contains(r#"entry 0 ("Tenant")"#),
                "{err}"
            );
            assert!(err.contains("entry 1"), "{err}");
            assert!(err.contains(expected), "{err}");
        }
        // Ports that start with a digit make __ids ambiguous (1 + 11 and 11 + 1).
        let err = parse(&two(&entry("A", "k1", "1"), &entry("B", "k2", "11"))).unwrap_err();
        assert!(err.contains("must start with a letter"), "{err}");
        // Keys no request can present.
        for key in [" k", "k ", "k\n", "kø", "k k", ""] {
            let err = parse(&format!("[{}]", entry("A", key, "P1"))).unwrap_err();
            assert!(err.contains("key"), "{key:?}: {err}");
        }
    }

    #[test]
    fn the_shipped_example_is_valid() {
        let bytes = include_bytes!("../../../config/keys.example.json");
        let keys = parse_keys(bytes).unwrap();
        assert_eq!(keys.len(), 3);
        // The example key of the docs and scripts never expires; the third shows an expiry.
        assert_eq!(keys[0].valid_to, None);
        assert_eq!(keys[1].digest, KeyDigest::of_secret("installer-x-key"));
        assert_eq!(keys[2].digest, KeyDigest::of_secret("seasonal-key"));
        assert!(keys[2].valid_to.is_some());
    }
}
