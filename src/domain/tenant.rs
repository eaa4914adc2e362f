//! A tenant: one API key's installer company, with what it adds to every XML row.

use super::fields::{check_xml_text, ClientId, Invalid};

/// A key's name: letters, digits, `_` and `-`; it names the tenant's XML folder.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct KeyName(String);

impl KeyName {
    pub fn new(value: &str) -> Result<Self, Invalid> {
        let ok = !value.is_empty()
            && value.len() <= 64
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if ok {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid(
                "must be 1 to 64 of the letters A-Z, a-z, digits, _ and -".into(),
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for KeyName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// The Patriot port code of a key (letters and digits), the suffix of every `__id`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PortCode(String);

impl PortCode {
    pub fn new(value: &str) -> Result<Self, Invalid> {
        if !value.is_empty() && value.chars().all(|c| c.is_ascii_alphanumeric()) {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid("must be letters and digits only".into()))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A valid XML element name, for the injected `xml_fields`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlName(String);

impl XmlName {
    pub fn new(value: &str) -> Result<Self, Invalid> {
        let mut chars = value.chars();
        let first_ok = chars.next().is_some_and(|c| c.is_alphabetic() || c == '_');
        let rest_ok = chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        // Names starting with "xml" in any case are reserved by the XML specification.
        let reserved = value.len() >= 3 && value[..3].eq_ignore_ascii_case("xml");
        if first_ok && rest_ok && !reserved {
            Ok(Self(value.to_owned()))
        } else {
            Err(Invalid(format!(
                "{value:?} is not a valid XML element name"
            )))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Text injected into XML as configured, byte for byte; only refused when XML cannot hold it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XmlText(String);

impl XmlText {
    pub fn new(value: &str) -> Result<Self, Invalid> {
        check_xml_text(value)?;
        Ok(Self(value.to_owned()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What the XML of a tenant's clients carries besides the client's own data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tenant {
    pub key_name: KeyName,
    pub port: PortCode,
    pub installer_name: XmlText,
    pub installer_email: XmlText,
    /// Appended after the info fields, in keys-file order.
    pub xml_fields: Vec<(XmlName, XmlText)>,
}

impl Tenant {
    /// Patriot's row id: the client id in decimal followed by the port (`9998BASE11`).
    pub fn patriot_id(&self, id: ClientId) -> String {
        [itoa::Buffer::new().format(id.get()), self.port.as_str()].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_names_ports_and_xml_names() {
        for (v, ok) in [
            ("Alarm24", true),
            ("a_b-c", true),
            ("", false),
            ("a b", false),
            ("../x", false),
            ("æ", false),
        ] {
            assert_eq!(KeyName::new(v).is_ok(), ok, "key_name {v:?}");
        }
        for (v, ok) in [
            ("BASE11", true),
            ("", false),
            ("BASE-11", false),
            ("BASE 1", false),
        ] {
            assert_eq!(PortCode::new(v).is_ok(), ok, "port {v:?}");
        }
        for (v, ok) in [
            ("InstallerName", true),
            ("_x", true),
            ("Callout1", true),
            ("a.b-c", true),
            ("Ø", true),
            ("1abc", false),
            ("", false),
            ("a b", false),
            ("a<b", false),
            ("xmlThing", false),
            ("XML", false),
            ("ns:el", false),
        ] {
            assert_eq!(XmlName::new(v).is_ok(), ok, "xml name {v:?}");
        }
    }
}
