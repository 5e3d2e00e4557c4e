//! `fake-symbols`: a Tecken- and Eliot-compatible symbols server with fault injection.
//!
//! It will serve Breakpad `.sym` files in the standard `<debug_file>/<debug_id>/<sym_file>`
//! layout, accept Tecken-style zip uploads, answer symbolication requests, and inject the
//! failures a production symbols service has. The crate is filled in by its own issue; for now
//! it only reserves its place in the workspace.
