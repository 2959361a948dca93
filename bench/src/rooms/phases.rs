//! The measured phases: sends, sync wake-ups, initial syncs, pagination.

use std::time::Duration;

use anyhow::{Context as _, bail};
use serde_json::Value;
use tokio::time::Instant;

use super::client::*;
use super::*;

/// `senders` clients send `total` messages between them, each one request
/// at a time; the clients are handed back.
pub(super) async fn send_run(
    ctx: &mut Ctx,
    clients: Vec<Client>,
    total: usize,
) -> anyhow::Result<(Vec<Client>, SendResult)> {
    let senders = clients.len();
    let mut jobs = Vec::with_capacity(senders);
    let mut plans = Vec::with_capacity(senders);
    for i in 0..senders {
        let count = total / senders + usize::from(i < total % senders);
        let txns: Vec<(String, usize)> = (0..count).map(|_| ctx.txn(i)).collect();
        plans.push(txns);
    }
    let machine_before = procfs::machine_busy_seconds()?;
    let db_before = ctx.db_name.as_deref().map(procfs::postgres_backends_cpu);
    let server_before = procfs::cpu_seconds(&ctx.pid)?;
    let written_before = procfs::bytes_written(&ctx.pid)?;
    let client_before = procfs::cpu_seconds("self")?;
    let started = Instant::now();
    for (mut client, txns) in clients.into_iter().zip(plans) {
        let room_id = ctx.room_id.clone();
        jobs.push(tokio::spawn(async move {
            let mut samples = Vec::with_capacity(txns.len());
            for (txn, n) in txns {
                let start = Instant::now();
                client.send(&room_id, &txn, n).await?;
                samples.push(start.elapsed().as_secs_f64() * 1e3);
            }
            anyhow::Ok((client, samples))
        }));
    }
    let mut clients = Vec::with_capacity(senders);
    let mut samples = Vec::with_capacity(total);
    for job in jobs {
        let (client, mut s) = job.await.context("a sender task panicked")??;
        clients.push(client);
        samples.append(&mut s);
    }
    let wall_s = started.elapsed().as_secs_f64();
    let process_cpu_s = procfs::cpu_seconds(&ctx.pid)? - server_before;
    let written = procfs::bytes_written(&ctx.pid)?.saturating_sub(written_before);
    let db_cpu_s = match (&db_before, ctx.db_name.as_deref()) {
        (Some(before), Some(name)) => procfs::postgres_cpu_delta(before, &procfs::postgres_backends_cpu(name)),
        _ => 0.0,
    };
    let server_cpu_s = process_cpu_s + db_cpu_s;
    let client_cpu_s = procfs::cpu_seconds("self")? - client_before;
    let other_cpu_s = (procfs::machine_busy_seconds()? - machine_before - server_cpu_s - client_cpu_s).max(0.0);
    #[allow(clippy::cast_precision_loss)]
    let messages_f = total as f64;
    let result = SendResult {
        senders,
        messages: total,
        wall_s,
        messages_per_s: messages_f / wall_s,
        latency: Latency::from_ms(samples),
        server_cpu_s,
        db_cpu_s,
        server_cpu_ms_per_message: server_cpu_s * 1e3 / messages_f,
        client_cpu_s,
        other_cpu_s,
        #[allow(clippy::cast_precision_loss)]
        bytes_written_per_message: written as f64 / messages_f,
    };
    println!(
        "send, {senders} sender(s): {} messages in {:.2} s = {:.1} msg/s; p50 {:.2} ms, p99 {:.2} ms; server CPU {:.2} ms/message (database backends {:.2}); tool CPU {:.2} s; other processes {:.0}% of a core",
        total,
        wall_s,
        result.messages_per_s,
        result.latency.p50_ms,
        result.latency.p99_ms,
        result.server_cpu_ms_per_message,
        db_cpu_s * 1e3 / messages_f,
        client_cpu_s,
        other_cpu_s / wall_s * 100.0
    );
    Ok((clients, result))
}

pub(super) async fn wakeup_run(
    ctx: &mut Ctx,
    sender: &mut Client,
    receiver: Client,
    filters: &mut Filters,
    samples: usize,
    park: Duration,
) -> anyhow::Result<(Client, WakeupResult)> {
    let mut receiver = Some(receiver);
    let take = |slot: &mut Option<Client>| slot.take().context("receiver client lost");
    // Where B's stream is now.
    let (_, first) = receiver.as_mut().context("receiver client lost")?.sync(None, 0, &filters.next()).await?;
    let mut since = next_batch(&first)?;
    let (mut from_start, mut from_answer, mut send_ms) = (Vec::new(), Vec::new(), Vec::new());
    let (mut early_returns, mut extra_polls) = (0, 0);
    for _ in 0..samples {
        let mut early_here = 0;
        let handle = loop {
            let mut b = take(&mut receiver)?;
            let (since_now, filter) = (since.clone(), filters.next());
            let handle = tokio::spawn(async move {
                let result = b.sync(Some(&since_now), LONG_POLL_MS, &filter).await;
                (b, result)
            });
            tokio::time::sleep(park).await;
            if !handle.is_finished() {
                break handle;
            }
            let (b, result) = handle.await.context("the long-poll task panicked")?;
            receiver = Some(b);
            since = next_batch(&result?.1)?;
            early_returns += 1;
            early_here += 1;
            if early_here > 20 {
                bail!("the long-poll keeps returning at once, before anything was sent");
            }
        };
        let (txn, n) = ctx.txn(99);
        let start = Instant::now();
        let event_id = sender.send(&ctx.room_id, &txn, n).await?;
        let answered = Instant::now();
        let (b, result) = handle.await.context("the long-poll task panicked")?;
        receiver = Some(b);
        let (mut done, mut reply) = result?;
        since = next_batch(&reply)?;
        let mut polls = 0;
        while !contains(&reply.body, &event_id) {
            polls += 1;
            extra_polls += 1;
            if polls > 10 {
                bail!("ten long-polls in a row came back without {event_id}");
            }
            let b = receiver.as_mut().context("receiver client lost")?;
            (done, reply) = b.sync(Some(&since), LONG_POLL_MS, &filters.next()).await?;
            since = next_batch(&reply)?;
        }
        from_start.push((done - start).as_secs_f64() * 1e3);
        let after_answer = match done.checked_duration_since(answered) {
            Some(d) => d.as_secs_f64() * 1e3,
            None => -(answered - done).as_secs_f64() * 1e3,
        };
        from_answer.push(after_answer);
        send_ms.push((answered - start).as_secs_f64() * 1e3);
    }
    let result = WakeupResult {
        from_send_start: Latency::from_ms(from_start),
        from_send_answer: Latency::from_ms(from_answer),
        send: Latency::from_ms(send_ms),
        early_returns,
        extra_polls,
        park_ms: u64::try_from(park.as_millis()).unwrap_or(u64::MAX),
    };
    println!(
        "sync wake-up ({} samples): from send start p50 {:.2} ms, p99 {:.2} ms; from send answer p50 {:.2} ms, p99 {:.2} ms; send p50 {:.2} ms; {} early returns, {} extra polls",
        result.from_send_start.n,
        result.from_send_start.p50_ms,
        result.from_send_start.p99_ms,
        result.from_send_answer.p50_ms,
        result.from_send_answer.p99_ms,
        result.send.p50_ms,
        early_returns,
        extra_polls
    );
    Ok((take(&mut receiver)?, result))
}

pub(super) async fn initial_sync_run(
    ctx: &mut Ctx,
    owner: &mut Client,
    other: &mut Client,
    filters: &mut Filters,
    rooms: usize,
    per_room: usize,
    runs: usize,
) -> anyhow::Result<InitialSyncResult> {
    let setup = Instant::now();
    for r in 0..rooms {
        let room_id = owner.create_room(&format!("sync room {r}")).await?;
        other.join(&room_id).await?;
        for m in 0..per_room {
            let (txn, n) = ctx.txn(98);
            let who = if m % 2 == 0 { &mut *owner } else { &mut *other };
            who.send(&room_id, &txn, n).await?;
        }
    }
    let setup_s = setup.elapsed().as_secs_f64();
    eprintln!("created {rooms} rooms with {per_room} messages each in {setup_s:.1} s");
    // Untimed: one initial sync, then one incremental sync from it.
    let (_, first) = owner.sync(None, 0, &filters.next()).await?;
    let since = next_batch(&first)?;
    owner.sync(Some(&since), 0, &filters.next()).await?;
    let mut samples = Vec::with_capacity(runs);
    let mut response_bytes = 0;
    for _ in 0..runs {
        let filter = filters.next();
        let start = Instant::now();
        let (done, reply) = owner.sync(None, 0, &filter).await?;
        samples.push((done - start).as_secs_f64() * 1e3);
        let value: Value = serde_json::from_slice(&reply.body).context("sync answer is not JSON")?;
        let joined = value["rooms"]["join"].as_object().map_or(0, serde_json::Map::len);
        if joined != rooms {
            bail!("initial sync lists {joined} joined rooms, expected {rooms}");
        }
        response_bytes = reply.body.len();
    }
    let result = InitialSyncResult {
        rooms,
        messages_per_room: per_room,
        latency: Latency::from_ms(samples),
        response_bytes,
        setup_s,
    };
    println!(
        "initial sync, {rooms} rooms ({} runs): median {:.2} ms, min {:.2} ms, max {:.2} ms; {} bytes",
        result.latency.n, result.latency.p50_ms, result.latency.min_ms, result.latency.max_ms, response_bytes
    );
    Ok(result)
}

pub(super) async fn messages_run(
    ctx: &Ctx,
    reader: &mut Client,
    page_size: usize,
    pages: usize,
) -> anyhow::Result<MessagesResult> {
    let mut from: Option<String> = None;
    let mut samples = Vec::with_capacity(pages);
    let mut events = 0;
    for _ in 0..pages {
        let mut path =
            format!("/_matrix/client/v3/rooms/{}/messages?dir=b&limit={page_size}", http::encode(&ctx.room_id));
        if let Some(from) = &from {
            path.push_str("&from=");
            path.push_str(&http::encode(from));
        }
        let start = Instant::now();
        let reply = reader.call("GET", &path, None).await?;
        samples.push(start.elapsed().as_secs_f64() * 1e3);
        let value = parse_ok(&reply, "GET", &path, &reader.user_id)?;
        let chunk = value["chunk"].as_array().map_or(0, Vec::len);
        events += chunk;
        // At the start of the room, begin again from the newest end, so
        // that more pages than the room holds can be asked for (profiling).
        from = match value["end"].as_str() {
            Some(end) if chunk > 0 => Some(end.to_owned()),
            _ => None,
        };
    }
    let result = MessagesResult { page_size, pages: samples.len(), events, latency: Latency::from_ms(samples) };
    println!(
        "/messages, {} pages of {page_size} ({events} events): median {:.2} ms, p99 {:.2} ms, max {:.2} ms",
        result.pages, result.latency.p50_ms, result.latency.p99_ms, result.latency.max_ms
    );
    Ok(result)
}
