//! Behaviour at many objects (figures live in `benches/examples/object_scale.rs`): stats are
//! totals plus the hottest N and a paged listing that visits every object once; past the
//! memory budget objects leave memory least recently used first and come back with their
//! data; past the open-database cap databases close without losing a write; cold requests
//! are marked.

use std::collections::HashSet;

use dobench_runtime::{
    AnyObject, Ceiling, Config, Context, DataDir, Method, Object, Registry, Request, Response,
    Result, Runtime, StatsQuery, COLD_START_HEADER, LIVE_OBJECT_BYTES,
};

/// `POST` adds 1 to a stored count and answers it.
struct Tally;

impl Object for Tally {
    async fn fetch(&self, ctx: &mut Context, _req: Request) -> Result<Response> {
        let mut s = ctx.storage();
        let n = s
            .get("n")?
            .map(|v| u64::from_le_bytes(v.try_into().unwrap()))
            .unwrap_or(0)
            + 1;
        s.put("n", &n.to_le_bytes())?;
        Ok(Response::json(200, &serde_json::json!({ "n": n })))
    }
}

/// Only reads.
struct Peek;

impl Object for Peek {
    async fn fetch(&self, ctx: &mut Context, _req: Request) -> Result<Response> {
        let found = ctx.storage().get("n")?.is_some();
        Ok(Response::json(200, &serde_json::json!({ "found": found })))
    }
}

fn runtime(dir: &std::path::Path, tweak: impl FnOnce(&mut Config)) -> Runtime {
    let mut reg = Registry::new();
    reg.register("tally", |_| Ok(Box::new(Tally) as Box<dyn AnyObject>));
    reg.register("peek", |_| Ok(Box::new(Peek) as Box<dyn AnyObject>));
    let mut cfg = Config::new(DataDir::Path(dir.to_path_buf()));
    cfg.ceiling = Ceiling::Off;
    tweak(&mut cfg);
    Runtime::new(cfg, reg).unwrap()
}

async fn bump(rt: &Runtime, name: &str) -> (u64, bool) {
    let obj = rt.object_by_name("tally", name).unwrap();
    let r = rt
        .fetch(&obj, Request::new(Method::POST, "/"))
        .await
        .unwrap();
    assert_eq!(r.status, 200);
    let cold = r.headers.iter().any(|(k, _)| k == COLD_START_HEADER);
    (r.json_body().unwrap()["n"].as_u64().unwrap(), cold)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stats_list_the_hottest_and_page_through_every_object_once() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path(), |_| {});
    let n = 3_000;
    for i in 0..n {
        bump(&rt, &format!("o{i}")).await;
    }
    // o7 is the hottest, o11 second.
    for _ in 0..5 {
        bump(&rt, "o7").await;
    }
    for _ in 0..3 {
        bump(&rt, "o11").await;
    }
    let st = rt.stats();
    assert_eq!(st.objects_total, n as u64);
    assert_eq!(st.objects.len(), StatsQuery::DEFAULT_TOP);
    assert_eq!(st.objects[0].name.as_deref(), Some("o7"));
    assert_eq!(st.objects[0].requests, 6);
    assert_eq!(st.objects[1].name.as_deref(), Some("o11"));
    assert!(st
        .objects
        .windows(2)
        .all(|w| w[0].requests >= w[1].requests));
    assert!(st.page.is_none());

    let mut seen = HashSet::new();
    let mut after = None;
    let mut pages = 0;
    loop {
        let q = StatsQuery {
            top: 0,
            after: after.clone(),
            limit: 700,
        };
        let page = rt.stats_with(&q).page.unwrap();
        pages += 1;
        let ids: Vec<_> = page.objects.iter().map(|o| o.id.clone()).collect();
        assert!(ids.windows(2).all(|w| w[0] < w[1]), "a page is in id order");
        for id in ids {
            assert!(seen.insert(id), "an object listed twice");
        }
        match page.next_after {
            Some(a) => after = Some(a),
            None => break,
        }
        assert!(pages < 10, "paging must end");
    }
    assert_eq!(seen.len(), n);
    rt.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn past_the_budget_and_the_open_cap_objects_leave_and_come_back_intact() {
    let dir = tempfile::tempdir().unwrap();
    // Room for ~20 objects in memory and 8 open databases.
    let rt = runtime(dir.path(), |c| {
        c.memory_budget_bytes = 20 * LIVE_OBJECT_BYTES;
        c.max_open_databases = 8;
    });
    let names: Vec<String> = (0..200).map(|i| format!("k{i}")).collect();
    for name in &names {
        let (n, cold) = bump(&rt, name).await;
        assert_eq!(n, 1);
        assert!(cold, "the first request brings the object into memory");
    }
    // Let the least recently used act on what they were asked.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let st = rt.stats();
    assert!(
        st.live_objects <= 40,
        "budget holds: {} live",
        st.live_objects
    );
    assert!(st.open_databases <= 8, "{} open", st.open_databases);
    // The hottest recent one is still in memory; the first ones left and come back cold,
    // with their data.
    let (n, cold) = bump(&rt, "k199").await;
    assert_eq!((n, cold), (2, false));
    let (n, cold) = bump(&rt, "k0").await;
    assert_eq!((n, cold), (2, true));
    for name in &names {
        bump(&rt, name).await;
    }
    let st = rt.stats();
    assert_eq!(st.objects_total, 200);
    rt.shutdown().await;
    drop(rt);
    // Every write is in the files after a restart.
    let rt = runtime(dir.path(), |_| {});
    for (i, name) in names.iter().enumerate() {
        let want = if i == 0 || i == 199 { 4 } else { 3 };
        assert_eq!(bump(&rt, name).await.0, want, "{name}");
    }
    rt.shutdown().await;
}

/// Issue 20 defect 8: reading objects that were never written leaves nothing on disk.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reads_of_objects_never_written_leave_no_files() {
    let dir = tempfile::tempdir().unwrap();
    let rt = runtime(dir.path(), |_| {});
    for i in 0..2_000 {
        let obj = rt.object_by_name("peek", &format!("nobody-{i}")).unwrap();
        let r = rt
            .fetch(&obj, Request::new(Method::GET, "/"))
            .await
            .unwrap();
        assert_eq!(r.json_body().unwrap()["found"], false);
    }
    bump(&rt, "somebody").await;
    rt.shutdown().await;
    let files = walk(&dir.path().join("objects"));
    let dbs: Vec<_> = files.iter().filter(|p| p.ends_with(".sqlite")).collect();
    assert_eq!(
        dbs.len(),
        1,
        "only the written object has a database: {dbs:?}"
    );
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p.display().to_string());
        }
    }
    out
}
