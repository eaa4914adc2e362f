//! API keys: which presented bearer secret belongs to which tenant, and when a key is usable.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::tenant::Tenant;

/// The SHA-256 of a bearer secret. Keys are held and compared only in this form, so the
/// secret itself never needs to stay in memory or in the keys file.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct KeyDigest([u8; 32]);

impl KeyDigest {
    pub fn of_secret(secret: &str) -> Self {
        Self(Sha256::digest(secret.as_bytes()).into())
    }

    /// The digest of a secret that a request can present as `Authorization: Bearer <key>`:
    /// printable ASCII without spaces. Any other secret could never authenticate, so a file
    /// that holds one has a mistake in it (a trailing space or newline, a typographic quote).
    pub fn of_presentable_secret(secret: &str) -> Result<Self, String> {
        if secret.is_empty() {
            return Err("must not be empty".into());
        }
        match secret.chars().position(|c| !c.is_ascii_graphic()) {
            None => Ok(Self::of_secret(secret)),
            Some(at) => Err(format!(
                "has a character no request can send at position {at} (only printable ASCII \
                 without spaces can follow `Bearer `)"
            )),
        }
    }

    /// Parses the 64 hex digits of a `key_sha256` entry.
    pub fn from_hex(hex_digest: &str) -> Option<Self> {
        let mut bytes = [0u8; 32];
        hex::decode_to_slice(hex_digest, &mut bytes).ok()?;
        Some(Self(bytes))
    }

    pub fn to_hex(self) -> String {
        hex::encode(self.0)
    }

    fn matches(&self, other: &KeyDigest) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl std::fmt::Debug for KeyDigest {
    // Even the digest stays out of logs: it identifies the key.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("KeyDigest(..)")
    }
}

/// One entry of the keys file.
#[derive(Debug, Clone)]
pub struct ApiKey {
    pub digest: KeyDigest,
    pub enabled: bool,
    pub valid_to: Option<DateTime<Utc>>,
    /// Shared: every request of the key holds it.
    pub tenant: std::sync::Arc<Tenant>,
}

impl ApiKey {
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.valid_to.is_none_or(|end| now < end)
    }
}

fn case_note(a: &str, b: &str) -> &'static str {
    if a == b {
        ""
    } else {
        ", which differ only in case"
    }
}

/// Refuses a set of keys that two tenants could not share safely: the same key, the same
/// `key_name` or `port` ignoring case (one folder on a Windows share; `__id`s that a reader
/// cannot tell apart), or a port that does not start with a letter (ports `1` and `11` give
/// client 11 of one tenant and client 1 of the other the same `__id` `111`). The message
/// names both entries.
pub fn check_unambiguous(keys: &[ApiKey]) -> Result<(), String> {
    let name = |i: usize| format!("entry {i} ({:?})", keys[i].tenant.key_name.as_str());
    for (i, key) in keys.iter().enumerate() {
        let port = key.tenant.port.as_str();
        if !port.starts_with(|c: char| c.is_ascii_alphabetic()) {
            return Err(format!(
                "{}: port {port:?} must start with a letter, so that client id + port is \
                 unambiguous",
                name(i)
            ));
        }
        for (j, other) in keys.iter().enumerate().take(i) {
            let (a, b) = (&other.tenant, &key.tenant);
            let clash = if key.digest == other.digest {
                Some("the same key".to_owned())
            } else if a
                .key_name
                .as_str()
                .eq_ignore_ascii_case(b.key_name.as_str())
            {
                Some(format!(
                    "key_name {:?} and {:?}{}",
                    a.key_name.as_str(),
                    b.key_name.as_str(),
                    case_note(a.key_name.as_str(), b.key_name.as_str())
                ))
            } else if a.port.as_str().eq_ignore_ascii_case(b.port.as_str()) {
                Some(format!(
                    "port {:?} and {:?}{}",
                    a.port.as_str(),
                    b.port.as_str(),
                    case_note(a.port.as_str(), b.port.as_str())
                ))
            } else {
                None
            };
            if let Some(what) = clash {
                return Err(format!("{} and {} have {what}", name(j), name(i)));
            }
        }
    }
    Ok(())
}

/// The tenant whose key is `secret`, when that key is enabled and not expired at `now`.
/// Every key is compared, in constant time, so timing does not tell how close a guess was.
pub fn authenticate<'a>(
    keys: &'a [ApiKey],
    secret: &str,
    now: DateTime<Utc>,
) -> Option<&'a std::sync::Arc<Tenant>> {
    let presented = KeyDigest::of_secret(secret);
    let mut found = None;
    for key in keys {
        if key.digest.matches(&presented) {
            found = Some(key);
        }
    }
    found.filter(|k| k.usable_at(now)).map(|k| &k.tenant)
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;
    use crate::domain::tenant::{KeyName, PortCode, XmlText};

    fn key(name: &str, secret: &str, enabled: bool, valid_to: Option<DateTime<Utc>>) -> ApiKey {
        ApiKey {
            digest: KeyDigest::of_secret(secret),
            enabled,
            valid_to,
            tenant: std::sync::Arc::new(Tenant {
                key_name: KeyName::new(name).unwrap(),
                port: PortCode::new("P1").unwrap(),
                installer_name: XmlText::new("I").unwrap(),
                installer_email: XmlText::new("i@i.no").unwrap(),
                xml_fields: vec![],
            }),
        }
    }

    #[test]
    fn only_enabled_unexpired_matching_keys_authenticate() {
        let now = Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap();
        let later = Utc.with_ymd_and_hms(2027, 1, 1, 0, 0, 0).unwrap();
        let keys = vec![
            key("A", "secret-a", true, None),
            key("B", "secret-b", false, None),
            key("C", "secret-c", true, Some(now)),
            key("D", "secret-d", true, Some(later)),
        ];
        let name = |s: &str| authenticate(&keys, s, now).map(|t| t.key_name.as_str().to_owned());
        assert_eq!(name("secret-a").as_deref(), Some("A"));
        assert_eq!(name("secret-b"), None, "disabled");
        assert_eq!(name("secret-c"), None, "expired at valid_to");
        assert_eq!(name("secret-d").as_deref(), Some("D"));
        assert_eq!(name("secret-"), None);
        assert_eq!(name(""), None);
    }

    #[test]
    fn digests_parse_from_hex() {
        let d = KeyDigest::of_secret("x");
        assert_eq!(KeyDigest::from_hex(&d.to_hex()), Some(d));
        assert_eq!(KeyDigest::from_hex("abc"), None);
        assert_eq!(format!("{d:?}"), "KeyDigest(..)");
    }
}
