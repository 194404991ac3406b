//! The one integration test binary: the real upcheck binary against real
//! servers, processes and SQLite files, all on this machine.

mod actions;
mod alerts;
mod assert;
mod certs;
mod config;
mod deploy;
mod dns;
mod faults;
mod fleet;
mod heartbeat;
mod hostile;
mod look;
mod noise;
mod outputs;
mod probes;
mod report;
mod run;
mod scale;
mod secrets;
mod support;
