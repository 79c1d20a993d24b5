<?php
/**
 * Removes what the plugin stored (its settings, the catalog queue and report) when it is
 * deleted from the Plugins screen. Ranker's data stays on the Ranker server.
 *
 * @package RankerMostViewed
 */

if ( ! defined( 'WP_UNINSTALL_PLUGIN' ) ) {
	exit;
}

/**
 * Removes the plugin's options and scheduled runs from the current site.
 */
function ranker_mv_uninstall_site() {
	foreach ( array( 'ranker_mv_settings', 'ranker_mv_queue', 'ranker_mv_status', 'ranker_mv_sync' ) as $option ) {
		delete_option( $option );
	}
	wp_clear_scheduled_hook( 'ranker_mv_retry' );
	wp_clear_scheduled_hook( 'ranker_mv_sync' );
}

if ( is_multisite() ) {
	foreach ( get_sites( array( 'fields' => 'ids' ) ) as $ranker_mv_blog ) {
		switch_to_blog( $ranker_mv_blog );
		ranker_mv_uninstall_site();
		restore_current_blog();
	}
} else {
	ranker_mv_uninstall_site();
}
