//! `patriot-api keys new`: a fresh API key and the keys-file entry that holds only its hash.

use base64::Engine;

use crate::domain::keys::KeyDigest;
use crate::domain::tenant::{KeyName, PortCode};

/// 32 bytes from the OS's random source, URL-safe base64 without padding (43 characters).
pub fn new_key(
    name: &str,
    port: &str,
    installer_name: Option<&str>,
    installer_email: Option<&str>,
) -> anyhow::Result<String> {
    KeyName::new(name).map_err(|e| anyhow::anyhow!("--name {e}"))?;
    PortCode::new(port).map_err(|e| anyhow::anyhow!("--port {e}"))?;
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness from the OS: {e}"))?;
    let key = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes);
    let entry = serde_json::json!({
        "key_name": name,
        "key_sha256": KeyDigest::of_secret(&key).to_hex(),
        "enabled": true,
        "valid_to": null,
        "port": port,
        "installer_name": installer_name.unwrap_or("REPLACE with the installer's name as in Patriot"),
        "installer_email": installer_email.unwrap_or("REPLACE with the installer's e-mail as in Patriot"),
        "xml_fields": {}
    });
    Ok(format!(
        "API key (give it to the installer; it is not stored anywhere):\n{key}\n\nEntry for the keys file:\n{}\n",
        serde_json::to_string_pretty(&entry)?
    ))
}
