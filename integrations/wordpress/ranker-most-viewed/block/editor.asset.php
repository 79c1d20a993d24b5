<?php
/**
 * The editor script's dependencies (WordPress' scripts it reads as wp.* globals).
 *
 * @package RankerMostViewed
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

return array(
	'dependencies' => array( 'wp-blocks', 'wp-element', 'wp-block-editor', 'wp-components', 'wp-i18n' ),
	'version'      => '0.1.0',
);
