//! The import share: an SMB share through pavao, or a local folder (a mounted share).

mod dir;
mod smb;

pub use dir::DirShare;
pub use smb::{SmbSettings, SmbShare};
