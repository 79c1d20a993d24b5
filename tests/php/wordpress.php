<?php
/**
 * Runs PHP code inside a test's WordPress, for tests/test_browser_wordpress.py:
 *
 *   php tests/php/wordpress.php WORDPRESS_DIR < code.php
 *
 * loads WordPress from WORDPRESS_DIR, signed in as its first user, runs the code read from
 * standard input (a function body: it may `return` a value) and prints what it returned as
 * JSON. With RANKER_WP_INSTALL set, it creates the database and WordPress' tables first,
 * so the code can call wp_install().
 *
 * @package RankerMostViewed
 */

$ranker_test_root = $argv[1];
$ranker_test_code = stream_get_contents( STDIN );
$_SERVER['HTTP_HOST']   = wp_test_host( $ranker_test_root );
$_SERVER['REQUEST_URI'] = '/';

/**
 * The host of WP_HOME in the test's wp-config.php, as WordPress expects a request to have.
 *
 * @param string $root The WordPress directory.
 * @return string
 */
function wp_test_host( $root ) {
	preg_match( "{define\( 'WP_HOME', 'https?://([^/']+)' \)}", file_get_contents( $root . '/wp-config.php' ), $m );
	return $m[1];
}

if ( getenv( 'RANKER_WP_INSTALL' ) ) {
	define( 'WP_INSTALLING', true );
	preg_match( "{define\( 'DB_HOST', 'localhost:([^']+)' \)}", file_get_contents( $ranker_test_root . '/wp-config.php' ), $m );
	$ranker_test_db = new mysqli( 'localhost', 'root', '', '', 0, $m[1] );
	$ranker_test_db->query( 'CREATE DATABASE IF NOT EXISTS wordpress' );
	$ranker_test_db->close();
	// No mail leaves a test.
	function wp_mail() {
		return true;
	}
}

require $ranker_test_root . '/wp-load.php';
if ( getenv( 'RANKER_WP_INSTALL' ) ) {
	require_once ABSPATH . 'wp-admin/includes/upgrade.php';
} else {
	require_once ABSPATH . 'wp-admin/includes/admin.php';
	wp_set_current_user( 1 );
}
$ranker_test_result = eval( $ranker_test_code );
echo wp_json_encode( $ranker_test_result ), "\n";
