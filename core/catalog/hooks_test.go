package catalog

// SetOnCheckpoint makes the background checkpointer call f after each
// checkpoint. Call before Open.
func (db *DB) SetOnCheckpoint(f func()) { db.onCheckpoint = f }
