package demo

import "time"

// Faults simulates a misbehaving server, for training and for testing
// clients. The zero value simulates nothing. Counts are per job (status
// faults) or per file of a job (download faults), so a client that retries
// eventually succeeds unless ExpiredFiles is set.
type Faults struct {
	// JobDelay keeps a job answering 202 until this long after kick-off.
	JobDelay time.Duration
	// StatusErrors makes the first N status requests of each job answer
	// 500 with an OperationOutcome whose issue.code is "transient".
	StatusErrors int
	// Burst429 makes the next N status requests (after StatusErrors)
	// answer 429 Too Many Requests with Retry-After.
	Burst429 int
	// FileErrors makes the first N download attempts of each file answer
	// 500 with a transient OperationOutcome.
	FileErrors int
	// DropMidFile cuts the next N download attempts of each file (after
	// FileErrors) off half way through: the connection is dropped.
	DropMidFile int
	// SlowFiles caps each download at this many bytes per second of
	// NDJSON (before compression), as over a slow link: training for
	// progress display and cancel, and a wide window for crash tests.
	// 0 = no cap.
	SlowFiles int64
	// ExpiredFiles makes every download answer 410 Gone.
	ExpiredFiles bool
	// ErrorFiles fails every Nth output file of a job (counting across
	// types): it is left out of output[] and error[] gets an
	// OperationOutcome naming it.
	ErrorFiles int
	// FailJobs makes every job fail once counted: its status answers 500
	// with an OperationOutcome whose issue.code is "processing", which a
	// client must not retry (with separate-export-status: 200 and
	// X-Export-Status: 500).
	FailJobs bool
}
