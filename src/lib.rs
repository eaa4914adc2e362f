//! patriot-api: the REST service between alarm installers and the Patriot monitoring
//! software. See README.md for the layout: `domain` (model and rules), `ports` (what the
//! domain needs), `adapters` (one per technology), `app` (wiring).

pub mod adapters;
pub mod app;
pub mod domain;
pub mod ports;
