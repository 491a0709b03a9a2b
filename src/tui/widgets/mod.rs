//! The dashboard's widgets, one concept a file: `bars` (hottest objects against the ceiling),
//! `charts` (time series and percentile tables), `panels` (errors, hibernation, alarms),
//! `table` (every object). Each only draws from `App`; none computes statistics.

pub mod bars;
pub mod charts;
pub mod panels;
pub mod table;
