// Package core defines Tranche's vocabulary (registrations, export requests,
// exports, files, records, events) and the errors shared by its packages. It
// imports only the standard library: HTTP, SQL, keychains and Fyne live in the
// subpackages and in ui/.
package core

import (
	"errors"
	"time"
)

// Version is Tranche's version, as in FyneApp.toml.
const Version = "0.1.0"

// UserAgent is the User-Agent of every request Tranche sends (RFC 9110,
// section 10.1.5): discovery, tokens, registration and Bulk Data alike.
const UserAgent = "Tranche/" + Version + " (FHIR Bulk Data client)"

// Errors shared across packages. Compare with errors.Is.
var (
	ErrNotFound = errors.New("not found")
	// ErrExpired reports a job or file that the server no longer has.
	ErrExpired = errors.New("expired on the server")
	// ErrIncomplete reports an export that stopped with work another run
	// may still do (files that failed, or were not reached): it stays
	// resumable.
	ErrIncomplete = errors.New("incomplete; the export can be resumed")
	// ErrKeychainUnavailable reports that no OS keychain (Secret Service,
	// macOS Keychain, Windows Credential Manager) could be reached.
	ErrKeychainUnavailable = errors.New("keychain unavailable")
	// ErrKeychainLocked reports a keychain that is there but locked, and
	// could not be unlocked here (no prompt could be shown, or it was
	// dismissed). Errors that wrap it also wrap ErrKeychainUnavailable.
	ErrKeychainLocked = errors.New("the keyring is locked")
)

// Registration is one client registration with one data holder: where its
// FHIR server is, who we are to it, and how hard we may use it. The private
// key is not here: it lives in the OS keychain under KeyRef.
type Registration struct {
	ID          int64
	Name        string            // unique, chosen by the user
	FHIRBaseURL string            // e.g. https://ehr.example.org/fhir
	TokenURL    string            // discovered, or set by hand
	ClientID    string            // issued by the data holder
	Scopes      string            // space separated, e.g. "system/*.rs"
	Alg         string            // "RS384" or "ES384"
	KeyID       string            // kid: RFC 7638 thumbprint of the public key
	KeyRef      string            // keychain entry name holding the private key
	PublicJWKS  string            // the public JWKS handed to the data holder
	JWKSURL     string            // JWKS URL the data holder was given, if any
	Headers     map[string]string // extra headers sent with every FHIR request
	MaxParallel int               // parallel downloads; 0 = default
	PollMin     time.Duration     // lower clamp on Retry-After; 0 = default
	PollMax     time.Duration     // upper clamp on Retry-After; 0 = default
	Sink        string            // object storage its exports land in (ParseSinkURL); "" = the catalogue
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Export levels (Bulk Data Access IG, Export: Bulk Data Kick-off Request).
const (
	LevelSystem  = "system"  // [base]/$export
	LevelPatient = "patient" // [base]/Patient/$export
	LevelGroup   = "group"   // [base]/Group/[id]/$export
)

// ExportRequest is everything a kick-off can carry. Empty fields are not sent.
type ExportRequest struct {
	Level                 string   `json:"level"`
	GroupID               string   `json:"groupId,omitempty"`
	OutputFormat          string   `json:"outputFormat,omitempty"`
	Since                 string   `json:"since,omitempty"` // FHIR instant, or "auto"
	Until                 string   `json:"until,omitempty"`
	Types                 []string `json:"types,omitempty"`
	Elements              []string `json:"elements,omitempty"`
	Patients              []string `json:"patients,omitempty"`    // "Patient/123"; forces POST
	TypeFilters           []string `json:"typeFilters,omitempty"` // one query per value (v3 semantics)
	IncludeAssociatedData []string `json:"includeAssociatedData,omitempty"`
	OrganizeOutputBy      string   `json:"organizeOutputBy,omitempty"`
	AllowPartialManifests bool     `json:"allowPartialManifests,omitempty"`
	Lenient               bool     `json:"lenient,omitempty"` // Prefer: handling=lenient
	POST                  bool     `json:"post,omitempty"`    // kick off with POST + Parameters
	// AssociatedDataAs is how a POST body encodes includeAssociatedData:
	// AssociatedDataCode (valueCode, Bulk Data v2/v3) or AssociatedDataCoding
	// (valueCoding, v4). Empty: decided from the server's CapabilityStatement.
	// GET kick-offs always send the plain codes.
	AssociatedDataAs string `json:"associatedDataAs,omitempty"`
	// SeparateExportStatus asks for Prefer: respond-async,separate-export-status
	// (Bulk Data v3): status polls then answer 200 and carry the job's status
	// in X-Export-Status. Polling understands both forms whether or not the
	// server applied it, so nothing else depends on this field.
	SeparateExportStatus bool `json:"separateExportStatus,omitempty"`
}

// Values of ExportRequest.AssociatedDataAs.
const (
	AssociatedDataCode   = "code"
	AssociatedDataCoding = "coding"
)

// ExportState is where an export is in its life.
type ExportState string

// Export states. Complete, Failed, Cancelled and Expired are final.
const (
	StateKickoff     ExportState = "kickoff"     // created; kick-off not yet accepted
	StatePolling     ExportState = "polling"     // accepted; waiting for the manifest
	StateDownloading ExportState = "downloading" // manifest known; files in flight
	StateComplete    ExportState = "complete"    // every file verified
	StateFailed      ExportState = "failed"
	StateCancelled   ExportState = "cancelled"
	StateExpired     ExportState = "expired" // the server no longer knows the job
)

// Final reports whether no more work will happen on an export in state s.
func (s ExportState) Final() bool {
	switch s {
	case StateComplete, StateFailed, StateCancelled, StateExpired:
		return true
	}
	return false
}

// Export is one bulk export job as the catalogue records it. StatusURL is
// committed the moment the server gives it, so a crash never loses the job.
type Export struct {
	ID              int64
	RegistrationID  int64 // 0 for an ad hoc export (client id + key file)
	FHIRBaseURL     string
	Scope           string // the scopes the token was requested with
	Request         ExportRequest
	KickoffURL      string // the URL the kick-off was sent to
	StatusURL       string // Content-Location of the kick-off response
	State           ExportState
	Progress        string // last X-Progress
	TransactionTime string // manifest transactionTime, exactly as sent
	Manifest        []byte // the raw manifest(s) as received, JSON
	Error           string // why it failed, for a person
	Released        bool   // DELETE sent after completion
	// Sink is the object storage (s3://BUCKET/PREFIX) the export lands in,
	// "" for the catalogue alone; the store reads it, the sink records it.
	Sink       string
	CreatedAt  time.Time
	UpdatedAt  time.Time
	FinishedAt time.Time
}

// FileKind says which manifest array a file came from.
type FileKind string

// File kinds: output, deleted (tombstone Bundles) and error/outcome
// (OperationOutcomes).
const (
	KindOutput  FileKind = "output"
	KindDeleted FileKind = "deleted"
	KindError   FileKind = "error"
)

// FileState is where one file's download and load is.
type FileState string

// File states.
const (
	FilePending     FileState = "pending"
	FileDownloading FileState = "downloading"
	FileLoaded      FileState = "loaded" // every line stored and the checks passed
	FileInvalid     FileState = "invalid"
	FileFailed      FileState = "failed"  // download gave up; may be retried
	FileExpired     FileState = "expired" // the server no longer has it (404, 410); only a fresh export helps
)

// ExportFile is one file of a manifest and its progress. Lines and Bytes are
// committed together with the records they cover, so a resume knows exactly
// where to carry on.
type ExportFile struct {
	ID       int64
	ExportID int64
	Kind     FileKind
	Type     string // manifest type; may be empty (v4 deleted/outcome items)
	URL      string
	Count    int64 // manifest count; -1 when the manifest gave none
	State    FileState
	Lines    int64  // lines stored so far
	Bytes    int64  // bytes of the file consumed so far
	Problems int64  // lines that failed validation
	Error    string // last download error or validation summary
}

// Record is one NDJSON line exactly as received, plus the few fields the
// catalogue indexes. Raw excludes the line terminator.
type Record struct {
	Line         int64 // 1-based line number within its file
	Raw          []byte
	ResourceType string
	ID           string
	LastUpdated  string
	Patient      string   // "Patient/123" when the resource belongs to one patient
	Deletes      []string // deleted files: "Type/id" of each DELETE entry
	Severity     string   // error files: the most severe issue severity
	Problem      string   // why the line failed validation; "" when it passed
}

// EventKind names what happened, as the SMART bulk-data-client's
// log.ndjson does ("Bulk Data Export Log Items").
type EventKind string

// Event kinds.
const (
	EventKickoff          EventKind = "kickoff"
	EventStatusProgress   EventKind = "status_progress"
	EventStatusComplete   EventKind = "status_complete"
	EventStatusError      EventKind = "status_error"
	EventManifestComplete EventKind = "manifest_complete"
	EventDownloadRequest  EventKind = "download_request"
	EventDownloadProgress EventKind = "download_progress"
	EventDownloadComplete EventKind = "download_complete"
	EventDownloadError    EventKind = "download_error"
	EventExportComplete   EventKind = "export_complete"
)

// Event is one thing that happened to an export. Which fields are set
// depends on Kind, as each field's comment says; bulk.LogItem maps an event
// to its log.ndjson line. An event never carries a token, an assertion or
// a key.
type Event struct {
	ExportID  int64
	StatusURL string // the bulk-data-client's exportId
	Kind      EventKind
	Time      time.Time

	// Kickoff: where it went, what was asked and who answered.
	KickoffURL string
	Request    *ExportRequest
	Server     Software

	// Kickoff (refused and retried), StatusProgress: the server's
	// X-Progress, or what Tranche does next; and how long until it does.
	Progress   string
	RetryAfter time.Duration

	// Kickoff, StatusError, DownloadError: the failure. Code is the HTTP
	// status (0 when no answer came), Body the OperationOutcome's text or
	// the start of the body, Headers the correlation headers only.
	Message   string
	Code      int
	Body      string
	Headers   map[string]string
	Transient bool // StatusError, DownloadError: it will be retried
	Attempt   int  // StatusError, DownloadRequest: 1 for the first try

	// StatusComplete, ManifestComplete: the manifest's files by kind.
	TransactionTime string
	OutputFiles     int
	DeletedFiles    int
	ErrorFiles      int
	Manifests       int // ManifestComplete: pages of a paged manifest

	// Download*: one file. Lines and Bytes are the file's totals so far
	// (DownloadProgress, DownloadComplete, DownloadError).
	FileURL      string
	FileKind     FileKind
	ResourceType string
	Offset       int64 // DownloadRequest: the byte a resumed download starts at
	Lines        int64
	Bytes        int64
	BatchLines   int   // DownloadProgress: lines in this batch
	BatchBytes   int   // DownloadProgress: bytes in this batch
	Problems     int64 // DownloadComplete: lines that failed validation
	BlankLines   int64 // DownloadComplete
	Verified     bool  // DownloadComplete: every check passed
	FileError    string
	Severities   map[string]int64 // DownloadComplete of an error file

	// ExportComplete: the totals. Resources counts output lines that
	// passed validation, which is what the catalogue holds as resources.
	Files            int
	FilesNotVerified int
	Resources        int64
	Duration         time.Duration
}

// Software is what a server's CapabilityStatement says it runs.
type Software struct {
	Name        string
	Version     string
	ReleaseDate string
	FHIRVersion string
}

// Group is one Group resource a server offers for Group-level export.
type Group struct {
	ID       string
	Name     string
	Quantity int
}
