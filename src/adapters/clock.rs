//! The system clock.

use chrono::{DateTime, FixedOffset, NaiveDate, Utc};

use crate::ports::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn today_local(&self) -> NaiveDate {
        chrono::Local::now().date_naive()
    }
    fn now_local(&self) -> DateTime<FixedOffset> {
        chrono::Local::now().fixed_offset()
    }
}
