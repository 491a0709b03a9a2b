//! The class registry: class name → constructor. Built once before the runtime starts and
//! read-only afterwards. Never holds instances.

use std::collections::BTreeMap;
use std::sync::Arc;

use crate::context::Context;
use crate::error::Result;
use crate::object::AnyObject;

/// Builds an instance; runs inside the object's first turn, so it may read storage, with the
/// input gate closed (it is synchronous).
pub type Constructor = Arc<dyn Fn(&mut Context) -> Result<Box<dyn AnyObject>> + Send + Sync>;

/// Object classes by name.
#[derive(Clone, Default)]
pub struct Registry {
    classes: BTreeMap<String, Constructor>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `class` (replacing an earlier registration of the same name).
    pub fn register<F>(&mut self, class: &str, ctor: F) -> &mut Self
    where
        F: Fn(&mut Context) -> Result<Box<dyn AnyObject>> + Send + Sync + 'static,
    {
        self.classes.insert(class.to_string(), Arc::new(ctor));
        self
    }

    /// The constructor for `class`.
    pub fn get(&self, class: &str) -> Option<&Constructor> {
        self.classes.get(class)
    }

    /// True if `class` is registered.
    pub fn contains(&self, class: &str) -> bool {
        self.classes.contains_key(class)
    }

    /// Registered class names, sorted.
    pub fn classes(&self) -> impl Iterator<Item = &str> {
        self.classes.keys().map(String::as_str)
    }
}
