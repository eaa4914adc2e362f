//! The model and its rules. No I/O and no framework types live here.

pub mod client;
pub mod combine_rules;
pub mod combine_run;
pub mod field_set;
pub mod fields;
pub mod file_backlog;
pub mod import_state;
pub mod keys;
pub mod rows;
pub mod service;
pub mod tenant;
pub mod xml;
