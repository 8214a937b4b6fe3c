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
package distributed
