/** Semi-sync with AFTER_SYNC: every acknowledged write is on at least one replica's relay log. */
export const SEMI_SYNC = ['rpl_semi_sync_master_enabled=ON', 'rpl_semi_sync_slave_enabled=ON', 'rpl_semi_sync_master_wait_point=AFTER_SYNC', 'rpl_semi_sync_master_timeout=10000'];
