<?php
/**
 * Plugin Name:       Ranker Most Viewed
 * Description:       Counts your posts' views with a self-hosted Ranker server and shows a "Most viewed" box (block and shortcode); keeps Ranker's catalog in step with your posts.
 * Version:           0.1.0
 * Requires at least: 6.1
 * Requires PHP:      7.4
 * Author:            Ranker
 * License:           MIT
 * License URI:       https://opensource.org/licenses/MIT
 * Text Domain:       ranker-most-viewed
 *
 * @package RankerMostViewed
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

define( 'RANKER_MV_FILE', __FILE__ );
define( 'RANKER_MV_DIR', __DIR__ );

require_once __DIR__ . '/includes/class-ranker-mv-core.php';
require_once __DIR__ . '/includes/class-ranker-mv-settings.php';
require_once __DIR__ . '/includes/class-ranker-mv-catalog.php';
require_once __DIR__ . '/includes/class-ranker-mv-front.php';

Ranker_MV_Settings::init();
Ranker_MV_Catalog::init();
Ranker_MV_Front::init();

register_deactivation_hook( __FILE__, array( 'Ranker_MV_Catalog', 'deactivate' ) );
