//! Validated field values. Each type can only be built through a constructor that enforces
//! its rule from `api.md` §3, so a value of one of these types is valid by construction.

use std::fmt;

use chrono::{NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};

/// Why one value was refused; the message completes "<field> …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

fn in_range(value: i64, min: i64, max: i64) -> Result<i64, Invalid> {
    if (min..=max).contains(&value) {
        Ok(value)
    } else {
        Err(Invalid(format!("must be between {min} and {max}")))
    }
}

/// A client number, 1–4294967295; unique per tenant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct ClientId(u32);

impl ClientId {
    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 1, u32::MAX as i64).map(|v| Self(v as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<i64> for ClientId {
    type Error = Invalid;
    fn try_from(value: i64) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl From<ClientId> for i64 {
    fn from(id: ClientId) -> i64 {
        id.0 as i64
    }
}
impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// A zone number, 1–999.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct ZoneNo(u16);

impl ZoneNo {
    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 1, 999).map(|v| Self(v as u16))
    }
    pub fn get(self) -> u16 {
        self.0
    }
}
impl TryFrom<i64> for ZoneNo {
    type Error = Invalid;
    fn try_from(value: i64) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl From<ZoneNo> for i64 {
    fn from(no: ZoneNo) -> i64 {
        no.0 as i64
    }
}

/// A user number, 1–999. 199 is a valid number to look up (it answers 404) but is reserved
/// for the installer user, so [`UserNo::for_new_user`] refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct UserNo(u16);

impl UserNo {
    /// The installer user that every XML row carries; never stored or returned by the API.
    pub const INSTALLER: u16 = 199;

    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 1, 999).map(|v| Self(v as u16))
    }
    pub fn for_new_user(value: i64) -> Result<Self, Invalid> {
        let no = Self::new(value)?;
        if no.0 == Self::INSTALLER {
            return Err(Invalid::new("199 is reserved for the installer user"));
        }
        Ok(no)
    }
    pub fn get(self) -> u16 {
        self.0
    }
}
impl TryFrom<i64> for UserNo {
    type Error = Invalid;
    fn try_from(value: i64) -> Result<Self, Invalid> {
        Self::for_new_user(value)
    }
}
impl From<UserNo> for i64 {
    fn from(no: UserNo) -> i64 {
        no.0 as i64
    }
}

/// An integer from 0 to `MAX` (minutes, hours, counters…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "i64", into = "i64")]
pub struct Bounded<const MAX: u16>(u16);

impl<const MAX: u16> Bounded<MAX> {
    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 0, MAX as i64).map(|v| Self(v as u16))
    }
    pub fn get(self) -> u16 {
        self.0
    }
}
impl<const MAX: u16> TryFrom<i64> for Bounded<MAX> {
    type Error = Invalid;
    fn try_from(value: i64) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl<const MAX: u16> From<Bounded<MAX>> for i64 {
    fn from(b: Bounded<MAX>) -> i64 {
        b.0 as i64
    }
}

/// True for characters that XML 1.0 cannot carry or that the contract forbids in text:
/// control characters other than tab, CR and LF, and the non-characters U+FFFE/U+FFFF.
pub fn is_forbidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Refuses text that contains a character XML 1.0 cannot hold.
pub fn check_xml_text(value: &str) -> Result<(), Invalid> {
    match value.chars().find(|c| is_forbidden_char(*c)) {
        Some(c) => Err(Invalid(format!(
            "must not contain control characters (found U+{:04X})",
            c as u32
        ))),
        None => Ok(()),
    }
}

/// Free text of `MIN`..=`MAX` characters, stored exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Text<const MIN: usize, const MAX: usize>(String);

impl<const MIN: usize, const MAX: usize> Text<MIN, MAX> {
    pub fn new(value: String) -> Result<Self, Invalid> {
        let len = value.chars().count();
        if len < MIN || len > MAX {
            return Err(if MIN == 0 {
                Invalid(format!("must be at most {MAX} characters"))
            } else {
                Invalid(format!("must be {MIN} to {MAX} characters"))
            });
        }
        check_xml_text(&value)?;
        Ok(Self(value))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl<const MIN: usize, const MAX: usize> TryFrom<String> for Text<MIN, MAX> {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl<const MIN: usize, const MAX: usize> From<Text<MIN, MAX>> for String {
    fn from(t: Text<MIN, MAX>) -> String {
        t.0
    }
}

/// Optional short text (names of places, panels…), up to 255 characters.
pub type ShortText = Text<0, 255>;
/// Optional long text (instructions, special requests), up to 4000 characters.
pub type LongText = Text<0, 4000>;
/// A post code, up to 20 characters.
pub type PostCode = Text<0, 20>;
/// A required name, 1 to 255 characters.
pub type Name = Text<1, 255>;

/// A phone number: empty, or an optional leading `+`, then digits, spaces or `-`, 3–20 digits.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Phone(String);

impl Phone {
    pub fn new(value: String) -> Result<Self, Invalid> {
        if value.is_empty() {
            return Ok(Self(value));
        }
        let rest = value.strip_prefix('+').unwrap_or(&value);
        let shape_ok = rest
            .chars()
            .all(|c| c.is_ascii_digit() || c == ' ' || c == '-');
        let digits = rest.chars().filter(char::is_ascii_digit).count();
        if shape_ok && (3..=20).contains(&digits) {
            Ok(Self(value))
        } else {
            Err(Invalid::new(
                "must be an optional + followed by digits, spaces or -, with 3 to 20 digits",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for Phone {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl From<Phone> for String {
    fn from(p: Phone) -> String {
        p.0
    }
}

/// An e-mail address: empty, or `local@domain.tld`, at most 254 characters.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Email(String);

impl Email {
    pub fn new(value: String) -> Result<Self, Invalid> {
        if value.is_empty() || is_email(&value) {
            Ok(Self(value))
        } else {
            Err(Invalid::new(
                "must be empty or an address like name@example.no (at most 254 characters)",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_email(value: &str) -> bool {
    if value.chars().count() > 254 {
        return false;
    }
    let Some((local, domain)) = value.rsplit_once('@') else {
        return false;
    };
    let bad_char = |c: char| c.is_whitespace() || c.is_control() || c == '@';
    let labels: Vec<&str> = domain.split('.').collect();
    !local.is_empty()
        && !local.chars().any(bad_char)
        && !domain.chars().any(bad_char)
        && labels.len() >= 2
        && labels.iter().all(|l| !l.is_empty())
}

impl TryFrom<String> for Email {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl From<Email> for String {
    fn from(e: Email) -> String {
        e.0
    }
}

/// A real calendar date `YYYY-MM-DD`, or a full `YYYY-MM-DDTHH:MM:SS`; kept as sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct InstallDate(String);

impl InstallDate {
    pub fn new(value: String) -> Result<Self, Invalid> {
        // chrono alone accepts unpadded fields ("2023-2-1"); the length pins the exact shape.
        let ok = match value.len() {
            10 => NaiveDate::parse_from_str(&value, "%Y-%m-%d").is_ok(),
            19 => NaiveDateTime::parse_from_str(&value, "%Y-%m-%dT%H:%M:%S").is_ok(),
            _ => false,
        };
        if ok && value.is_ascii() {
            Ok(Self(value))
        } else {
            Err(Invalid::new(
                "must be a real date YYYY-MM-DD (or YYYY-MM-DDTHH:MM:SS)",
            ))
        }
    }
    pub fn from_date(date: NaiveDate) -> Self {
        Self(date.format("%Y-%m-%d").to_string())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}
impl TryFrom<String> for InstallDate {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl From<InstallDate> for String {
    fn from(d: InstallDate) -> String {
        d.0
    }
}

/// A user type: one upper-case letter A–Z (default `U`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct UserType(char);

impl UserType {
    pub fn new(value: String) -> Result<Self, Invalid> {
        let mut chars = value.chars();
        match (chars.next(), chars.next()) {
            (Some(c), None) if c.is_ascii_uppercase() => Ok(Self(c)),
            _ => Err(Invalid::new("must be one upper-case letter A-Z")),
        }
    }
    pub fn as_char(self) -> char {
        self.0
    }
}
impl Default for UserType {
    fn default() -> Self {
        Self('U')
    }
}
impl TryFrom<String> for UserType {
    type Error = Invalid;
    fn try_from(value: String) -> Result<Self, Invalid> {
        Self::new(value)
    }
}
impl From<UserType> for String {
    fn from(t: UserType) -> String {
        t.0.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &str) -> String {
        v.to_owned()
    }

    #[test]
    fn ids_and_numbers() {
        let cases: &[(i64, bool, bool, bool)] = &[
            // value, ClientId, ZoneNo, UserNo::for_new_user
            (-1, false, false, false),
            (0, false, false, false),
            (1, true, true, true),
            (198, true, true, true),
            (199, true, true, false),
            (999, true, true, true),
            (1000, true, false, false),
            (4_294_967_295, true, false, false),
            (4_294_967_296, false, false, false),
        ];
        for &(v, client, zone, user) in cases {
            assert_eq!(ClientId::new(v).is_ok(), client, "ClientId {v}");
            assert_eq!(ZoneNo::new(v).is_ok(), zone, "ZoneNo {v}");
            assert_eq!(UserNo::for_new_user(v).is_ok(), user, "UserNo {v}");
        }
        assert!(UserNo::new(199).is_ok(), "199 can be looked up");
        for (v, ok) in [(-1, false), (0, true), (23, true), (24, false)] {
            assert_eq!(Bounded::<23>::new(v).is_ok(), ok, "hours {v}");
        }
        for (v, ok) in [(59, true), (60, false)] {
            assert_eq!(Bounded::<59>::new(v).is_ok(), ok, "minutes {v}");
        }
        for (v, ok) in [(255, true), (256, false), (99, true)] {
            assert_eq!(Bounded::<255>::new(v).is_ok(), ok, "byte {v}");
        }
        assert!(Bounded::<99>::new(100).is_err());
        assert!(Bounded::<999>::new(999).is_ok());
    }

    #[test]
    fn text_lengths_and_characters() {
        let cases: &[(&str, bool, bool)] = &[
            // value, ShortText (0..=255), Name (1..=255)
            ("", true, false),
            ("a", true, true),
            ("æøå ÆØÅ", true, true),
            ("tab\tcr\rlf\n", true, true),
            ("bell\u{7}", false, false),
            ("nul\u{0}", false, false),
            ("del\u{7f}", false, false),
            ("c1\u{85}", false, false),
            ("nonchar\u{FFFE}", false, false),
            ("emoji 🚨", true, true),
        ];
        for &(v, short, name) in cases {
            assert_eq!(ShortText::new(s(v)).is_ok(), short, "ShortText {v:?}");
            assert_eq!(Name::new(s(v)).is_ok(), name, "Name {v:?}");
        }
        assert!(
            ShortText::new("ø".repeat(255)).is_ok(),
            "characters, not bytes"
        );
        assert!(ShortText::new("x".repeat(256)).is_err());
        assert!(PostCode::new("x".repeat(20)).is_ok());
        assert!(PostCode::new("x".repeat(21)).is_err());
        assert!(LongText::new("x".repeat(4000)).is_ok());
        assert!(LongText::new("x".repeat(4001)).is_err());
        // Kept exactly as sent: no trimming, no normalisation.
        let t = ShortText::new(s("  e\u{301}  ")).unwrap();
        assert_eq!(t.as_str(), "  e\u{301}  ");
    }

    #[test]
    fn phones() {
        for (v, ok) in [
            ("", true),
            ("123", true),
            ("12", false),
            ("+4712345678", true),
            ("+47 123 45 678", true),
            ("69-31-00-00", true),
            ("12345678901234567890", true),
            ("123456789012345678901", false),
            ("+", false),
            ("++4712345678", false),
            ("47+12345678", false),
            ("1234a", false),
            ("(47) 1234", false),
            ("１２３", false),
        ] {
            assert_eq!(Phone::new(s(v)).is_ok(), ok, "phone {v:?}");
        }
    }

    #[test]
    fn emails() {
        let long_local = format!("{}@example.no", "a".repeat(243));
        let too_long = format!("{}@example.no", "a".repeat(244));
        for (v, ok) in [
            ("", true),
            ("user@email.com", true),
            ("post@ostsik.no", true),
            ("a.b+c@sub.domain.no", true),
            ("ø@æ.no", true),
            ("user@localhost", false),
            ("user@", false),
            ("@domain.no", false),
            ("user.domain.no", false),
            ("a b@c.no", false),
            ("a@b..no", false),
            ("a@.no", false),
            ("a@b.", false),
            ("a@b@c.no", false),
            (long_local.as_str(), true),
            (too_long.as_str(), false),
        ] {
            assert_eq!(Email::new(s(v)).is_ok(), ok, "email {v:?}");
        }
    }

    #[test]
    fn install_dates() {
        for (v, ok) in [
            ("2023-02-20", true),
            ("2024-02-29", true),
            ("2023-02-29", false),
            ("2023-02-30", false),
            ("2023-13-01", false),
            ("2023-2-20", false),
            ("20-02-2023", false),
            ("2023-02-20T12:30:00", true),
            ("2023-02-20T24:00:00", false),
            ("2023-02-20 12:30:00", false),
            ("2023-02-20T12:30", false),
            ("2023-02-20T12:30:00Z", false),
            ("", false),
        ] {
            assert_eq!(InstallDate::new(s(v)).is_ok(), ok, "date {v:?}");
        }
    }

    #[test]
    fn user_types() {
        for (v, ok) in [
            ("U", true),
            ("A", true),
            ("Z", true),
            ("N", true),
            ("u", false),
            ("", false),
            ("UU", false),
            ("Æ", false),
            ("1", false),
        ] {
            assert_eq!(UserType::new(s(v)).is_ok(), ok, "type {v:?}");
        }
        assert_eq!(UserType::default().as_char(), 'U');
    }

    #[test]
    fn stored_values_are_validated_when_read_back() {
        assert!(serde_json::from_str::<ZoneNo>("1000").is_err());
        assert!(serde_json::from_str::<Phone>("\"abc\"").is_err());
        assert_eq!(
            serde_json::from_str::<ClientId>("9998").unwrap().get(),
            9998
        );
    }
}
