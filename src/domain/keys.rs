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
    pub tenant: Tenant,
}

impl ApiKey {
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.enabled && self.valid_to.is_none_or(|end| now < end)
    }
}

/// The tenant whose key is `secret`, when that key is enabled and not expired at `now`.
/// Every key is compared, in constant time, so timing does not tell how close a guess was.
pub fn authenticate<'a>(
    keys: &'a [ApiKey],
    secret: &str,
    now: DateTime<Utc>,
) -> Option<&'a Tenant> {
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
            tenant: Tenant {
                key_name: KeyName::new(name).unwrap(),
                port: PortCode::new("P1").unwrap(),
                installer_name: XmlText::new("I").unwrap(),
                installer_email: XmlText::new("i@i.no").unwrap(),
                xml_fields: vec![],
            },
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
