//! Validated field values. Each type can only be built through a constructor that enforces
//! its rule from `api.md` §3, so a value of one of these types is valid by construction.

use std::fmt;

use chrono::NaiveDate;
use std::borrow::Cow;

/// Why one value was refused; the message completes "`<field>` …".
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Invalid(pub String);

impl Invalid {
    fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// What kind of value a field holds, as every format (JSON, XML, storage) spells it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Integer,
    Flag,
}

/// A field's rule, stated once: the validating constructor enforces it, and the adapters
/// derive from it what they publish (the OpenAPI `minLength`/`maxLength`/`pattern`,
/// `minimum`/`maximum`). `pattern` is a regular expression that both Rust's `regex` and
/// ECMA-262 read the same way (no `\s`, no classes that differ between the two).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    Text {
        min_chars: usize,
        max_chars: usize,
        pattern: &'static str,
    },
    Integer {
        min: i64,
        max: i64,
    },
    Flag,
}

impl Rule {
    pub const fn kind(self) -> Kind {
        match self {
            Rule::Text { .. } => Kind::Text,
            Rule::Integer { .. } => Kind::Integer,
            Rule::Flag => Kind::Flag,
        }
    }
}

/// One field's value, independent of any format.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldValue<'a> {
    Text(Cow<'a, str>),
    Integer(i64),
    Flag(bool),
}

/// A validated field type: its rule, and the conversion from and to a plain value.
pub trait FieldType: Sized {
    const RULE: Rule;
    /// Builds the value, enforcing [`FieldType::RULE`] (and any rule a pattern cannot say).
    fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid>;
    fn value(&self) -> FieldValue<'_>;
}

fn wrong_kind(expected: Kind) -> Invalid {
    Invalid::new(match expected {
        Kind::Text => "must be a string",
        Kind::Integer => "must be an integer",
        Kind::Flag => "must be a boolean",
    })
}

fn text_of(value: FieldValue<'_>) -> Result<String, Invalid> {
    match value {
        FieldValue::Text(t) => Ok(t.into_owned()),
        _ => Err(wrong_kind(Kind::Text)),
    }
}

fn integer_of(value: FieldValue<'_>) -> Result<i64, Invalid> {
    match value {
        FieldValue::Integer(n) => Ok(n),
        _ => Err(wrong_kind(Kind::Integer)),
    }
}

/// Implements [`FieldType`] for a type with `new(String)` and `as_str()`.
macro_rules! text_field_type {
    ($ty:ty, $rule:expr) => {
        impl FieldType for $ty {
            const RULE: Rule = $rule;
            fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
                Self::new(text_of(value)?)
            }
            fn value(&self) -> FieldValue<'_> {
                FieldValue::Text(Cow::Borrowed(self.as_str()))
            }
        }
    };
}

/// Implements [`FieldType`] for a type with `new(i64)` and `get()`.
macro_rules! integer_field_type {
    ($ty:ty, $min:expr, $max:expr) => {
        impl FieldType for $ty {
            const RULE: Rule = Rule::Integer {
                min: $min,
                max: $max,
            };
            fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
                Self::new(integer_of(value)?)
            }
            fn value(&self) -> FieldValue<'_> {
                FieldValue::Integer(self.get() as i64)
            }
        }
    };
}

impl FieldType for bool {
    const RULE: Rule = Rule::Flag;
    fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
        match value {
            FieldValue::Flag(b) => Ok(b),
            _ => Err(wrong_kind(Kind::Flag)),
        }
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Flag(*self)
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ClientId(u32);

impl ClientId {
    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 1, u32::MAX as i64).map(|v| Self(v as u32))
    }
    pub fn get(self) -> u32 {
        self.0
    }
}

integer_field_type!(ClientId, 1, u32::MAX as i64);

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ZoneNo(u16);

impl ZoneNo {
    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 1, 999).map(|v| Self(v as u16))
    }
    pub fn get(self) -> u16 {
        self.0
    }
}
integer_field_type!(ZoneNo, 1, 999);

impl TryFrom<i64> for ZoneNo {
    type Error = Invalid;
    fn try_from(value: i64) -> Result<Self, Invalid> {
        Self::new(value)
    }
}

/// A user number, 1–999. 199 is a valid number to look up (it answers 404) but is reserved
/// for the installer user, so [`UserNo::for_new_user`] refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
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
/// As a field of a user, the number is one a new user may take: 199 is refused.
impl FieldType for UserNo {
    const RULE: Rule = Rule::Integer { min: 1, max: 999 };
    fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
        Self::for_new_user(integer_of(value)?)
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Integer(self.0 as i64)
    }
}

impl TryFrom<i64> for UserNo {
    type Error = Invalid;
    fn try_from(value: i64) -> Result<Self, Invalid> {
        Self::for_new_user(value)
    }
}

/// How many entries one page of a listing holds: 1–1000, 100 when not given.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageLimit(u16);

impl PageLimit {
    pub const DEFAULT: PageLimit = PageLimit(100);

    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 1, 1000).map(|v| Self(v as u16))
    }
    pub fn get(self) -> u16 {
        self.0
    }
}

impl Default for PageLimit {
    fn default() -> Self {
        Self::DEFAULT
    }
}

integer_field_type!(PageLimit, 1, 1000);

/// An integer from 0 to `MAX` (minutes, hours, counters…).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Bounded<const MAX: u16>(u16);

impl<const MAX: u16> Bounded<MAX> {
    pub fn new(value: i64) -> Result<Self, Invalid> {
        in_range(value, 0, MAX as i64).map(|v| Self(v as u16))
    }
    pub fn get(self) -> u16 {
        self.0
    }
}
impl<const MAX: u16> FieldType for Bounded<MAX> {
    const RULE: Rule = Rule::Integer {
        min: 0,
        max: MAX as i64,
    };
    fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
        Self::new(integer_of(value)?)
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Integer(self.0 as i64)
    }
}

/// Text that XML 1.0 can carry and the contract allows: no control characters other than
/// tab, CR and LF, and not the non-characters U+FFFE/U+FFFF.
pub const TEXT_PATTERN: &str =
    r"^[^\u0000-\u0008\u000B\u000C\u000E-\u001F\u007F-\u009F\uFFFE\uFFFF]*$";

/// True for characters that XML 1.0 cannot carry or that the contract forbids in text:
/// control characters other than tab, CR and LF, and the non-characters U+FFFE/U+FFFF.
pub fn is_forbidden_char(c: char) -> bool {
    (c.is_control() && !matches!(c, '\t' | '\r' | '\n')) || matches!(c, '\u{FFFE}' | '\u{FFFF}')
}

/// Refuses text that contains a character XML 1.0 cannot hold. Checked character by
/// character: the same rule as [`TEXT_PATTERN`] (a test holds them equal), without a regex
/// search on every field of every stored client read.
pub fn check_xml_text(value: &str) -> Result<(), Invalid> {
    match value.chars().find(|c| is_forbidden_char(*c)) {
        None => Ok(()),
        Some(c) => Err(Invalid(format!(
            "must not contain control characters (found U+{:04X})",
            c as u32
        ))),
    }
}

/// Free text of `MIN`..=`MAX` characters, stored exactly as sent.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
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

impl<const MIN: usize, const MAX: usize> FieldType for Text<MIN, MAX> {
    const RULE: Rule = Rule::Text {
        min_chars: MIN,
        max_chars: MAX,
        pattern: TEXT_PATTERN,
    };
    fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
        Self::new(text_of(value)?)
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Text(Cow::Borrowed(self.as_str()))
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

/// A phone number: empty, or an optional leading `+`, then digits, spaces or `-`, 3–20 digits;
/// at most [`Phone::MAX_CHARS`] characters in all.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Phone(String);

impl Phone {
    pub const PATTERN: &'static str = r"^$|^\+?[ -]*([0-9][ -]*){3,20}$";
    /// Room for 20 digits with a separator after each, and a `+`.
    pub const MAX_CHARS: usize = 64;

    /// [`Phone::PATTERN`] by hand (a test holds them equal): a regex search per phone field
    /// of every stored client read was a visible share of the read profile.
    fn follows_pattern(value: &str) -> bool {
        if value.is_empty() {
            return true;
        }
        let rest = value.strip_prefix('+').unwrap_or(value);
        rest.bytes()
            .all(|b| b.is_ascii_digit() || b == b' ' || b == b'-')
            && (3..=20).contains(&rest.bytes().filter(u8::is_ascii_digit).count())
    }

    pub fn new(value: String) -> Result<Self, Invalid> {
        if value.chars().count() <= Self::MAX_CHARS && Self::follows_pattern(&value) {
            Ok(Self(value))
        } else {
            Err(Invalid::new(
                "must be an optional + followed by digits, spaces or -, with 3 to 20 digits \
                 (at most 64 characters)",
            ))
        }
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

text_field_type!(
    Phone,
    Rule::Text {
        min_chars: 0,
        max_chars: Phone::MAX_CHARS,
        pattern: Phone::PATTERN,
    }
);

/// An e-mail address: empty, or `local@domain.tld`, at most 254 characters. No whitespace,
/// control character or U+FFFE/U+FFFF anywhere (spelled out, as `\s` differs between regex
/// dialects).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Email(String);

impl Email {
    pub const PATTERN: &'static str = concat!(
        r"^$|^[^@ \u0000-\u001F\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFFFE\uFFFF]+",
        r"@[^@. \u0000-\u001F\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFFFE\uFFFF]+",
        r"(\.[^@. \u0000-\u001F\u007F-\u00A0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000\uFFFE\uFFFF]+)+$"
    );
    pub const MAX_CHARS: usize = 254;

    pub fn new(value: String) -> Result<Self, Invalid> {
        if value.chars().count() <= Self::MAX_CHARS && is_email(&value) {
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

/// A character [`Email::PATTERN`] refuses anywhere in an address.
fn is_excluded_from_email(c: char) -> bool {
    matches!(c,
        '@' | ' ' | '\u{0}'..='\u{1F}' | '\u{7F}'..='\u{A0}' | '\u{1680}' | '\u{2000}'..='\u{200A}'
        | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}' | '\u{FFFE}' | '\u{FFFF}')
}

/// [`Email::PATTERN`], checked character by character (a test holds the two equal): the
/// regex was 2 % of the read profile, run on every stored address read.
fn is_email(value: &str) -> bool {
    if value.is_empty() {
        return true;
    }
    let Some((local, domain)) = value.split_once('@') else {
        return false;
    };
    let mut labels = domain.split('.');
    let valid = |part: &str| !part.is_empty() && !part.chars().any(is_excluded_from_email);
    valid(local) && labels.clone().count() >= 2 && labels.all(valid)
}

text_field_type!(
    Email,
    Rule::Text {
        min_chars: 0,
        max_chars: Email::MAX_CHARS,
        pattern: Email::PATTERN,
    }
);

/// A real calendar date `YYYY-MM-DD`, or a full `YYYY-MM-DDTHH:MM:SS`; kept as sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InstallDate(String);

impl InstallDate {
    /// Exactly the days of the (proleptic Gregorian) calendar, so that the document tells
    /// generated clients what the service takes: months of 31, of 30, February of 28, and
    /// 29 February of leap years (divisible by 4, by 100 only when by 400). The calendar
    /// check in [`InstallDate::new`] stays as a second opinion; a test holds the two equal.
    pub const PATTERN: &'static str = concat!(
        r"^(?:[0-9]{4}-(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])",
        r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)|02-(?:0[1-9]|1[0-9]|2[0-8]))",
        r"|(?:[0-9]{2}(?:0[48]|[2468][048]|[13579][26])|(?:[02468][048]|[13579][26])00)-02-29)",
        r"(?:T(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9])?$"
    );

    /// [`InstallDate::PATTERN`] by hand (a test holds them equal): the shape byte by byte,
    /// the day by chrono's calendar, the time by its ranges. Two of these are checked per
    /// stored client read, and the regex search showed in the read profile.
    fn follows_pattern(value: &str) -> bool {
        let b = value.as_bytes();
        let digits = |from: usize, to: usize| b[from..to].iter().all(u8::is_ascii_digit);
        let number = |from: usize, to: usize| {
            b[from..to]
                .iter()
                .fold(0u32, |n, d| n * 10 + u32::from(d - b'0'))
        };
        if !(b.len() == 10 || b.len() == 19) {
            return false;
        }
        if !(digits(0, 4) && b[4] == b'-' && digits(5, 7) && b[7] == b'-' && digits(8, 10)) {
            return false;
        }
        let year = number(0, 4) as i32;
        if NaiveDate::from_ymd_opt(year, number(5, 7), number(8, 10)).is_none() {
            return false;
        }
        b.len() == 10
            || (b[10] == b'T'
                && digits(11, 13)
                && b[13] == b':'
                && digits(14, 16)
                && b[16] == b':'
                && digits(17, 19)
                && number(11, 13) <= 23
                && number(14, 16) <= 59
                && number(17, 19) <= 59)
    }

    pub fn new(value: String) -> Result<Self, Invalid> {
        if Self::follows_pattern(&value) {
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
text_field_type!(
    InstallDate,
    Rule::Text {
        min_chars: 10,
        max_chars: 19,
        pattern: InstallDate::PATTERN,
    }
);

/// A user type: one upper-case letter A–Z (default `U`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
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
impl UserType {
    pub const PATTERN: &'static str = "^[A-Z]$";
}

impl FieldType for UserType {
    const RULE: Rule = Rule::Text {
        min_chars: 1,
        max_chars: 1,
        pattern: UserType::PATTERN,
    };
    fn from_value(value: FieldValue<'_>) -> Result<Self, Invalid> {
        Self::new(text_of(value)?)
    }
    fn value(&self) -> FieldValue<'_> {
        FieldValue::Text(Cow::Owned(self.0.to_string()))
    }
}

impl Default for UserType {
    fn default() -> Self {
        Self('U')
    }
}

#[cfg(test)]
mod tests {
    use regex::Regex;

    use super::*;

    /// The patterns as the document states them; the code checks each by hand.
    fn compiled(pattern: &'static str) -> Regex {
        Regex::new(pattern).unwrap()
    }

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
            // Each converts back to the number it was made from.
            if let Ok(id) = ClientId::new(v) {
                assert_eq!(i64::from(id), v);
                assert_eq!(id.to_string(), v.to_string());
            }
            if let Ok(no) = ZoneNo::new(v) {
                assert_eq!(i64::from(no.get()), v);
            }
            if let Ok(no) = UserNo::for_new_user(v) {
                assert_eq!(i64::from(no.get()), v);
            }
        }
        assert!(UserNo::new(199).is_ok(), "199 can be looked up");
        for (v, ok) in [(-1, false), (0, true), (23, true), (24, false)] {
            assert_eq!(Bounded::<23>::new(v).is_ok(), ok, "hours {v}");
        }
        assert_eq!(Bounded::<23>::new(17).unwrap().get(), 17);
        for (v, ok) in [(0, false), (1, true), (1000, true), (1001, false)] {
            assert_eq!(PageLimit::new(v).is_ok(), ok, "limit {v}");
        }
        assert_eq!(PageLimit::new(250).unwrap().get(), 250);
        assert_eq!(PageLimit::default().get(), 100);
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

    /// The document's pattern is the calendar: for every month and day number 00-32 of
    /// years that test each leap-year rule, the pattern matches exactly the dates chrono
    /// knows.
    #[test]
    fn the_date_pattern_is_the_calendar() {
        let pattern = compiled(InstallDate::PATTERN);
        for year in [
            0, 1, 4, 96, 100, 200, 400, 1900, 1999, 2000, 2023, 2024, 2100, 2400, 9996, 9999,
        ] {
            for month in 0..=13 {
                for day in 0..=32 {
                    let date = format!("{year:04}-{month:02}-{day:02}");
                    let real = NaiveDate::parse_from_str(&date, "%Y-%m-%d").is_ok();
                    assert_eq!(pattern.is_match(&date), real, "{date}");
                    let stamp = format!("{date}T23:59:59");
                    assert_eq!(pattern.is_match(&stamp), real, "{stamp}");
                }
            }
        }
    }

    /// The hand-written checks say what their documented patterns say, on the calendar
    /// grid above with times, and on strings made of the characters that matter.
    #[test]
    fn the_hand_checks_are_their_patterns() {
        let date = compiled(InstallDate::PATTERN);
        let mut samples: Vec<String> = Vec::new();
        for year in [0, 4, 100, 400, 1900, 2000, 2023, 2024, 9999] {
            for month in 0..=13 {
                for day in [0, 1, 9, 10, 28, 29, 30, 31, 32] {
                    samples.push(format!("{year:04}-{month:02}-{day:02}"));
                    for time in [
                        "00:00:00", "23:59:59", "24:00:00", "23:60:00", "23:59:60", "9:00:00",
                    ] {
                        samples.push(format!("{year:04}-{month:02}-{day:02}T{time}"));
                    }
                }
            }
        }
        samples.extend(
            [
                "2023-2-01",
                "02023-01-01",
                "+2023-01-01",
                "2023-01-01T",
                "2023/01/01",
                "2023-01-01t12:00:00",
                "2023-01-01T12:00:00Z",
                "2023-01-01 12:00:00",
                "١٢٣٤-01-01",
                "",
            ]
            .map(String::from),
        );
        for sample in &samples {
            assert_eq!(
                InstallDate::follows_pattern(sample),
                date.is_match(sample),
                "{sample:?}"
            );
        }
        let phone = compiled(Phone::PATTERN);
        let alphabet = ['1', '+', ' ', '-', 'a', '٣'];
        let mut phones = vec![String::new()];
        for len in 1..=5 {
            for n in 0..alphabet.len().pow(len) {
                let mut rest = n;
                let text: String = (0..len)
                    .map(|_| {
                        let c = alphabet[rest % alphabet.len()];
                        rest /= alphabet.len();
                        c
                    })
                    .collect();
                phones.push(text);
            }
        }
        phones.extend([
            "1".repeat(20),
            "1".repeat(21),
            format!("+{}", "1-".repeat(20)),
        ]);
        for sample in &phones {
            assert_eq!(
                Phone::follows_pattern(sample),
                phone.is_match(sample),
                "{sample:?}"
            );
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
    fn the_text_pattern_is_the_character_rule() {
        let text = compiled(TEXT_PATTERN);
        for c in (0u32..0x11000).filter_map(char::from_u32) {
            let one = c.to_string();
            assert_eq!(
                text.is_match(&one),
                !is_forbidden_char(c),
                "U+{:04X}",
                c as u32
            );
        }
    }

    #[test]
    fn the_email_pattern_is_the_character_rule() {
        let pattern = compiled(Email::PATTERN);
        let same = |v: &str| assert_eq!(is_email(v), pattern.is_match(v), "{v:?}");
        for c in (0u32..0x11000).filter_map(char::from_u32) {
            for v in [
                format!("{c}@b.no"),
                format!("a@{c}.no"),
                format!("a@b.n{c}"),
            ] {
                same(&v);
            }
        }
        for v in [
            "",
            "@",
            "a@",
            "@b.no",
            "a@b",
            "a@b.",
            "a@.no",
            "a@b..no",
            "a.b@c.d.e",
            "a@b@c.no",
            ".@b.no",
            "a@b.no.",
            "a b@c.no",
            "æ@ø.å",
        ] {
            same(v);
        }
    }

    proptest::proptest! {
        #[test]
        fn addresses_of_these_characters_follow_the_pattern(v in "[a@. \u{A0}\u{2000}\t\u{7F}æ]{0,12}") {
            proptest::prop_assert_eq!(is_email(&v), compiled(Email::PATTERN).is_match(&v));
        }
    }

    #[test]
    fn every_pattern_compiles_and_anchors() {
        for p in [
            TEXT_PATTERN,
            Phone::PATTERN,
            Email::PATTERN,
            InstallDate::PATTERN,
            UserType::PATTERN,
        ] {
            assert!(p.starts_with('^') && p.ends_with('$'), "{p}");
            compiled(p);
        }
    }

    #[test]
    fn phones_are_bounded_in_length() {
        let padded = format!("+47{}", " ".repeat(61));
        assert!(Phone::new(format!("{padded}1")).is_err(), "65 characters");
        assert!(Phone::new("123".to_owned() + &" ".repeat(61)).is_ok());
    }

    #[test]
    fn values_convert_by_kind() {
        assert!(ZoneNo::from_value(FieldValue::Text("1".into())).is_err());
        assert!(bool::from_value(FieldValue::Integer(1)).is_err());
        assert!(UserNo::from_value(FieldValue::Integer(199)).is_err());
        let name = Name::from_value(FieldValue::Text("æ".into())).unwrap();
        assert_eq!(name.value(), FieldValue::Text("æ".into()));
    }
}
