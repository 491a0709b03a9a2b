//! Reaching other objects from inside a handler: a [`Namespace`] per class (ids by name,
//! unique ids, ids from strings) and a [`Stub`] per object whose `fetch` and typed `call`
//! go through the callee's mailbox like any request: E-order (one caller's calls to one
//! callee arrive in the order they were made), a full mailbox refused as
//! [`Error::Overloaded`], the callee's errors passed back, the callee's ceiling and stats
//! charged. A call is an outgoing message: it leaves only after the caller's writes before
//! it commit (the output gate), and awaiting it opens the caller's input gate. Never posts
//! anything itself: the caller's task does, after its commit.

use std::sync::Arc;

use serde::{de::DeserializeOwned, Serialize};
use tokio::sync::oneshot;

use crate::context::{Core, OutCall};
use crate::error::{Error, Result};
use crate::id::ObjectId;
use crate::mailbox::{Envelope, RpcCall};
use crate::object::{Request, Response};
use crate::runtime::ObjectRef;

/// The objects of one class, as a handler reaches them (production's namespace binding).
#[derive(Clone)]
pub struct Namespace {
    core: Arc<Core>,
    class: Arc<str>,
}

/// A handle on another object (or this one). Cheap to clone; calls through it are ordered.
#[derive(Clone)]
pub struct Stub {
    core: Arc<Core>,
    target: ObjectRef,
}

impl Namespace {
    pub(crate) fn new(core: Arc<Core>, class: &str) -> Result<Self> {
        let class = core.runtime.class(class)?;
        Ok(Self { core, class })
    }

    /// The class name.
    pub fn class(&self) -> &str {
        &self.class
    }

    /// The id `name` maps to (idFromName): the same object for the same name, everywhere.
    pub fn id_from_name(&self, name: &str) -> ObjectId {
        self.core.runtime.ids().id_from_name(&self.class, name)
    }

    /// A fresh random id (newUniqueId).
    pub fn new_unique_id(&self) -> ObjectId {
        self.core.runtime.ids().new_unique_id(&self.class)
    }

    /// The id a string names (idFromString); an error if it is not an id of this class.
    pub fn id_from_string(&self, id: &str) -> Result<ObjectId> {
        self.core.runtime.ids().id_from_string(&self.class, id)
    }

    /// A stub of the object with `id`. Constructs nothing until it is called.
    pub fn get(&self, id: ObjectId) -> Stub {
        Stub {
            core: self.core.clone(),
            target: ObjectRef::new(self.class.clone(), id, None),
        }
    }

    /// A stub of the object `name` (its id from [`Namespace::id_from_name`], the name kept
    /// for stats).
    pub fn get_by_name(&self, name: &str) -> Stub {
        Stub {
            core: self.core.clone(),
            target: ObjectRef::new(
                self.class.clone(),
                self.id_from_name(name),
                Some(Arc::from(name)),
            ),
        }
    }
}

impl Stub {
    /// The callee's id.
    pub fn id(&self) -> ObjectId {
        self.target.id()
    }

    /// Sends `req` to the callee's `fetch` and waits for its committed response. Errors as
    /// a client would meet them: [`Error::Overloaded`] when its mailbox is full (passed on
    /// with `?` it answers the caller's client 503), the callee's own error otherwise.
    pub async fn fetch(&self, req: Request) -> Result<Response> {
        let (reply, answer) = oneshot::channel();
        self.send(Envelope::Fetch {
            req: Box::new(req),
            upgrade: false,
            call: true,
            reply,
        });
        let reply = answer.await.map_err(|_| ended())??;
        Ok(reply.response)
    }

    /// Calls the callee's [`crate::Object::call`] with `method` and `args` as JSON, and
    /// reads its JSON answer as `R`.
    pub async fn call<A: Serialize, R: DeserializeOwned>(
        &self,
        method: &str,
        args: &A,
    ) -> Result<R> {
        let args = serde_json::to_value(args).map_err(|e| {
            Error::Handler(format!("call `{method}`: arguments do not serialize: {e}"))
        })?;
        let (reply, answer) = oneshot::channel();
        self.send(Envelope::Call {
            call: Box::new(RpcCall {
                method: method.to_string(),
                args,
                reply,
            }),
        });
        let value = answer.await.map_err(|_| ended())??;
        serde_json::from_value(value)
            .map_err(|e| Error::Handler(format!("call `{method}`: answer does not parse: {e}")))
    }

    /// Queues the call behind the caller's commit (the task posts it).
    fn send(&self, env: Envelope) {
        self.core.tx().calls.push(OutCall {
            to: self.target.clone(),
            env,
        });
    }
}

fn ended() -> Error {
    Error::ObjectReset("the callee ended before answering".into())
}
