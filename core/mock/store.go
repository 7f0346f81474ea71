// Package mock holds function-field test doubles of Tranche's interfaces.
// A nil function field panics when called, so a test states exactly which
// calls it expects.
package mock

import (
	"context"

	"tranche.dev/tranche/core"
)

var _ core.ExportStore = (*Store)(nil)

// Store is a core.ExportStore whose methods call the matching function fields.
type Store struct {
	CreateExportFn          func(ctx context.Context, e *core.Export) error
	UpdateExportFn          func(ctx context.Context, e *core.Export) error
	FindExportFn            func(ctx context.Context, id int64) (*core.Export, error)
	FindExportByStatusURLFn func(ctx context.Context, statusURL string) (*core.Export, error)
	UnfinishedExportsFn     func(ctx context.Context) ([]*core.Export, error)
	LastTransactionTimeFn   func(ctx context.Context, e *core.Export) (string, error)
	AddFilesFn              func(ctx context.Context, exportID int64, files []*core.ExportFile) error
	UpdateFileFn            func(ctx context.Context, f *core.ExportFile) error
	FindFilesFn             func(ctx context.Context, exportID int64) ([]*core.ExportFile, error)
	AppendRecordsFn         func(ctx context.Context, f *core.ExportFile, recs []core.Record) error
	ResetFileFn             func(ctx context.Context, f *core.ExportFile) error
}

func (s *Store) ResetFile(ctx context.Context, f *core.ExportFile) error {
	return s.ResetFileFn(ctx, f)
}

func (s *Store) CreateExport(ctx context.Context, e *core.Export) error {
	return s.CreateExportFn(ctx, e)
}

func (s *Store) UpdateExport(ctx context.Context, e *core.Export) error {
	return s.UpdateExportFn(ctx, e)
}

func (s *Store) FindExport(ctx context.Context, id int64) (*core.Export, error) {
	return s.FindExportFn(ctx, id)
}

func (s *Store) FindExportByStatusURL(ctx context.Context, statusURL string) (*core.Export, error) {
	return s.FindExportByStatusURLFn(ctx, statusURL)
}

func (s *Store) UnfinishedExports(ctx context.Context) ([]*core.Export, error) {
	return s.UnfinishedExportsFn(ctx)
}

func (s *Store) LastTransactionTime(ctx context.Context, e *core.Export) (string, error) {
	return s.LastTransactionTimeFn(ctx, e)
}

func (s *Store) AddFiles(ctx context.Context, exportID int64, files []*core.ExportFile) error {
	return s.AddFilesFn(ctx, exportID, files)
}

func (s *Store) UpdateFile(ctx context.Context, f *core.ExportFile) error {
	return s.UpdateFileFn(ctx, f)
}

func (s *Store) FindFiles(ctx context.Context, exportID int64) ([]*core.ExportFile, error) {
	return s.FindFilesFn(ctx, exportID)
}

func (s *Store) AppendRecords(ctx context.Context, f *core.ExportFile, recs []core.Record) error {
	return s.AppendRecordsFn(ctx, f, recs)
}
