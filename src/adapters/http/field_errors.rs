//! The fields of one request that did not validate, named as the caller wrote them.

use crate::domain::fields::Invalid;

/// One field that did not validate, named by its path in the request (`info.SinceHrs`,
/// `user.UserNo`, `X-Client-Id`, `body`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

/// Every field of one request that did not validate; never empty.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn new() -> Self {
        Self(Vec::new())
    }

    pub fn single(field: impl Into<String>, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Adds an error for `field` unless that field already has one (a value that failed its
    /// type check is not also reported as missing).
    pub fn add(&mut self, field: impl Into<String>, message: impl Into<String>) {
        let field = field.into();
        if !self.0.iter().any(|e| e.field == field) {
            self.0.push(FieldError {
                field,
                message: message.into(),
            });
        }
    }

    /// Records the outcome of a constructor for `field`, keeping the value when it is valid.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        match result {
            Ok(v) => Some(v),
            Err(e) => {
                self.add(field, e.0);
                None
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    /// `Ok(value)` when nothing failed, otherwise every failure.
    pub fn into_result<T>(self, value: impl FnOnce() -> Option<T>) -> Result<T, Self> {
        if !self.is_empty() {
            return Err(self);
        }
        match value() {
            Some(v) => Ok(v),
            None => Err(Self::single("body", "is incomplete")),
        }
    }
}

/// How many failing fields a 422 lists; the rest are counted. A body of thousands of unknown
/// fields must not make an answer ten times its size.
pub const LISTED: usize = 50;

impl ValidationErrors {
    /// The failures a 422 lists, and how many more there were.
    pub fn listed(&self) -> (&[FieldError], usize) {
        let shown = self.0.len().min(LISTED);
        (&self.0[..shown], self.0.len() - shown)
    }
}

impl std::fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (listed, more) = self.listed();
        let parts: Vec<String> = listed
            .iter()
            .map(|e| format!("{} {}", e.field, e.message))
            .collect();
        f.write_str(&parts.join("; "))?;
        if more > 0 {
            write!(f, "; and {more} more")?;
        }
        Ok(())
    }
}

impl std::error::Error for ValidationErrors {}
