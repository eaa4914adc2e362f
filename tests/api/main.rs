//! Black-box tests of `patriot-api serve`: the real binary, real sled, real files.

mod combine;
mod document_bounds;
mod durability;
mod full_disk;
mod hardening;
mod helpers;
mod hostile;
mod imports;
mod isolation;
mod keys_reload;
mod locks;
mod openapi_doc;
mod operations;
mod process;
mod routes;
mod smbd;
mod state_file;
mod tenants;
mod validation;
mod xml_files;
