//! One folder per technology; each implements ports and translates its own errors.

pub mod append_log;
pub mod client_v1;
pub mod clock;
pub mod disk_space;
pub mod export_file;
pub mod fs_xml;
pub mod http;
pub mod import_state;
pub mod keys_file;
pub mod regular_file;
pub mod share;
pub mod sled_store;
pub mod strict_value;
pub mod systemd;
