package catalog

import (
	"context"
	"database/sql"
	"fmt"
)

// EachResource calls fn with the key ("Type/id") and exact JSON of every
// resource matching f (After and Limit ignored), in storage order (by row
// id: file by file, line by line), which is stable for a given catalogue.
// It streams: raw is only valid during the call. The latest view honours
// tombstones. fn's error stops the walk and is returned.
func (db *DB) EachResource(ctx context.Context, f ResourceFilter, fn func(key string, raw []byte) error) error {
	q, err := buildStream(`SELECT r.type, r.res_id, r.raw`, f)
	if err != nil {
		return err
	}
	var typ, id string
	var raw sql.RawBytes
	err = db.run(ctx, q, func(rows *sql.Rows) error {
		if err := rows.Scan(&typ, &id, &raw); err != nil {
			return err
		}
		return fn(typ+"/"+id, raw)
	})
	if err != nil {
		return fmt.Errorf("each resource: %w", err)
	}
	return nil
}
