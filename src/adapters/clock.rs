//! The system clock.

use chrono::{DateTime, NaiveDate, Utc};

use crate::ports::Clock;

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn today_local(&self) -> NaiveDate {
        chrono::Local::now().date_naive()
    }
}
