// Package distributed is torch.distributed for Go: libtorch's own c10d stores and process
// groups (Gloo on CPU; NCCL on CUDA when the libtorch has it), the collectives that data-parallel
// training needs, and [Init], which joins a group from the variables torchrun sets.
//
// Everything here is libtorch's code, reached through the seqtorch shim: a [Store] is c10d's
// TCPStore, FileStore or PrefixStore; a [ProcessGroup] is c10d's ProcessGroupGloo or
// ProcessGroupNCCL; torch/nn/parallel's DistributedDataParallel uses c10d's Reducer.
//
// # Launching
//
// A program that calls [Init] runs under torchrun as a Python script does
// (torchrun --no_python --nproc-per-node 2 ./program ...): Init reads RANK, WORLD_SIZE,
// MASTER_ADDR and MASTER_PORT, and joins torchrun's agent store when
// TORCHELASTIC_USE_AGENT_STORE is True. seqtorch's own launcher (the training commands'
// --nproc) sets the same variables and SEQTORCH_STORE_FILE, a file the ranks rendezvous through,
// so a local run opens no listening store socket at all.
//
// # Safety
//
// A c10d store has no authentication: whoever reaches its port can read and write it. Servers
// here bind MASTER_ADDR's address, 127.0.0.1 unless told otherwise, and Init warns when the
// address is not a loopback one. (libtorch 1.13's TCPStore binds every interface whatever the
// address; Init warns about that too. With libtorch 2.x this package binds the socket itself.)
//
// Collectives must be called in the same order on every rank. A [ProcessGroup] serializes the
// calls made on it, so it is safe from many goroutines, but collectives issued by several
// goroutines at once reach the ranks in an order that may differ between ranks: issue them from
// one goroutine.
//
// A rank that dies makes the collectives of the others fail at once (Gloo sees the connection
// close); one that hangs makes them fail after the group's timeout. Groups made by [Init] keep
// a heartbeat in the store, and their errors then name the rank that stopped.
//
// # Data-parallel training in the commands
//
// Both training commands (train/sms, train/siamese) train on several processes as PyTorch's
// DistributedDataParallel does, on libtorch's own c10d (Gloo on CPU):
//
//	go run ./train/sms --nproc 2 --cell lstm                  # two local worker processes
//	go build -o sms ./train/sms && torchrun --no_python --nproc-per-node 2 ./sms --cell lstm
//
// How they behave:
//
//   - --nproc N starts N workers of the same command and supervises them (no torchrun
//     needed); under torchrun (or any launcher that sets RANK, WORLD_SIZE, MASTER_ADDR,
//     MASTER_PORT, and TORCHELASTIC_USE_AGENT_STORE for torchrun's agent store) each process
//     joins the group from those variables.
//   - --batch is the global batch: each of N processes takes batch/N examples per step (it
//     must divide evenly), so a run keeps its hyperparameters — and its results, up to float
//     rounding and the grouping of examples — when N changes. (PyTorch scripts usually give the
//     batch per process: to match one, pass N times its batch.) Every epoch is shuffled
//     identically on every rank and sharded as DistributedSampler shards (padding the last
//     shard by repetition).
//   - Rank 0's parameters are broadcast at the start; gradients are averaged by c10d's Reducer
//     during backward, bucketed as PyTorch buckets them (1 MiB, then 25 MiB), so ranks stay
//     bit-identical. Only rank 0 validates and writes the run folder (metrics, best model,
//     checkpoints, summary with world_size); --resume DIR restarts the same number of
//     processes, each from the checkpoint. The epoch's training loss is over all ranks'
//     examples.
//   - Ctrl-C stops every worker at the same step (the ranks agree before each step) and leaves
//     a resumable checkpoint. A worker that dies ends the others: the launcher names it
//     ("sms: rank 1 was killed by signal SIGKILL; stopping the other 1 worker"), and without
//     the launcher the surviving ranks fail with "... rank 1 stopped (no heartbeat for 3s; it
//     died or hangs)". A rank that hangs fails the others after --dist-timeout (default 5m).
//   - The local launcher's workers meet through a c10d FileStore in a private temporary
//     folder, so no store port is opened; Gloo's connections bind 127.0.0.1. Under torchrun the
//     store is torchrun's (or, without its agent store, rank 0's TCPStore on MASTER_ADDR); see
//     Safety above.
//
// Measured speed (Go and PyTorch, 1 and 2 processes, and all-reduce timings) is in the
// documentation of scripts/bench ("Data parallelism"; `go run ./scripts/bench -only ddp`).
// In short: on a 2-core machine two processes are slower than one; data parallelism pays
// where there are spare cores or GPUs.
//
// # As a library
//
// [Init] joins a group from the environment; a [ProcessGroup] offers AllReduce (sum, avg,
// product, min, max), Broadcast, AllGather and Barrier, with timeouts. Package
// torch/nn/parallel wraps a model: parallel.New(model, group, parallel.Options{}), then
// ddp.Backward(loss) in place of loss.Backward(); NoSync accumulates without averaging;
// Options.Flat averages after backward with one bucketed all-reduce per bucket instead of the
// Reducer.
//
// # Requirements
//
// A libtorch with c10d and Gloo and the gloo headers: on Debian `make libtorch` installs
// libgloo-dev beside libtorch-dev (1.13's reducer.hpp includes a distributed-autograd header
// Debian does not ship; the shim supplies a two-line stand-in, used only where the real one is
// missing). Without them the shim builds without this package, and --nproc says so. NCCL
// (CUDA) is opt-in, `SEQTORCH_NCCL=1 make libtorch` (it needs nccl.h and the CUDA toolkit
// headers; NCCL_INCLUDE=DIR names where nccl.h is): it has been written against libtorch 2.6's
// headers but not yet compiled or run (no GPU machine was lent); scripts/gpu-check.sh tries
// it in a world of one.
//
// # Tests
//
// This package's tests cover every collective and reduction on float32, float64, float16,
// int64, int32 and uint8 at 2 and 3 ranks, the TCP store and torchrun's agent store (on
// libtorch 2.x) and the environment reader. torch/nn/parallel's tests train 2 and 3 ranks as
// one process on the whole batches (within 2e-6 after 6 SGD steps; ranks bit-identical; the
// Reducer and the flat fallback agree bit for bit at 2 ranks), check NoSync accumulation, and
// that a killed rank and a stopped (SIGSTOP) rank are named by the others. train/sms tests
// --nproc 2 end to end (a resumed run ends bit-identical to the uninterrupted one), and `make
// parity` has ddp cases against torch.nn.parallel.DistributedDataParallel over gloo.
//
// # Several machines (not tried yet)
//
// On paper, as only one machine has been available: start one launcher per machine with
// torchrun,
//
//	torchrun --nnodes 2 --node-rank K --nproc-per-node G --master-addr NODE0 --master-port 29500 --no_python ./sms ...
//
// It sets MASTER_ADDR/MASTER_PORT (node 0's store: TCP 29500 must be reachable from every
// node), WORLD_SIZE = nodes × G, RANK = K·G + local rank, and LOCAL_RANK. Gloo then connects
// every pair of ranks on ephemeral TCP ports, bound to the address the machine's hostname
// resolves to (GLOO_SOCKET_IFNAME=eth1 picks the interface): the nodes must reach each other
// on all ports, on a private network, since neither the store nor Gloo authenticates. On GPUs
// each rank takes cuda:LOCAL_RANK and an NCCL group (shim built with SEQTORCH_NCCL=1;
// NCCL_SOCKET_IFNAME picks NCCL's interface); a world-size-1 NCCL group is the first thing to
// try on a GPU machine (scripts/gpu-check.sh does).
package distributed
