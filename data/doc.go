// Package data reads, splits, tokenizes, encodes and batches the data sets
// used by seqtorch: the SMS Spam Collection, the SICK sentence-pair corpus,
// word2vec/GloVe word vectors and WordNet 3.0 (for synonym augmentation).
//
// Everything is pure Go. Parsers never panic on bad input; their errors name
// the file and line (or, for binary files, row and byte offset) and say what
// was expected. Data files are found with [Ensure], which looks in a local
// cache (SEQTORCH_DATA), then a mirror folder (SEQTORCH_MIRROR), then
// downloads, verifying SHA-256 sums in every case.
package data
