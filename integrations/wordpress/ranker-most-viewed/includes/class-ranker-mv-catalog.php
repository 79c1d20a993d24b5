<?php
/**
 * Keeps Ranker's catalog in step with the posts: a post published or updated is put, one
 * unpublished is hidden (its counts kept), one trashed or deleted is deleted. A push that
 * fails for a reason that may pass waits in a queue (an option) and WP-Cron tries it again
 * with a growing delay; a refused one is reported on the settings page.
 *
 * @package RankerMostViewed
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * Catalog pushes, their queue and their report.
 */
final class Ranker_MV_Catalog {

	const QUEUE  = 'ranker_mv_queue';
	const STATUS = 'ranker_mv_status';
	const HOOK   = 'ranker_mv_retry';
	const SYNC   = 'ranker_mv_sync';
	// Pushes tried per cron run, and stories per bulk import request.
	const BATCH      = 50;
	const SYNC_BATCH = 100;
	const TIMEOUT    = 5;

	/**
	 * Hooks the pushes to the posts' changes.
	 */
	public static function init() {
		add_action( 'wp_after_insert_post', array( __CLASS__, 'saved' ), 10, 4 );
		add_action( 'before_delete_post', array( __CLASS__, 'deleting' ), 10, 2 );
		add_action( self::HOOK, array( __CLASS__, 'run_queue' ) );
		add_action( self::SYNC, array( __CLASS__, 'sync' ) );
		add_action( 'admin_post_ranker_mv_retry', array( __CLASS__, 'retry_now' ) );
		add_action( 'admin_post_ranker_mv_sync', array( __CLASS__, 'sync_now' ) );
	}

	/**
	 * Stops the retries when the plugin is deactivated; the queue is kept for next time.
	 */
	public static function deactivate() {
		wp_clear_scheduled_hook( self::HOOK );
		wp_clear_scheduled_hook( self::SYNC );
	}

	/**
	 * The post types whose posts are catalogued and counted.
	 *
	 * @return array
	 */
	public static function post_types() {
		return (array) apply_filters( 'ranker_mv_post_types', array( 'post' ) );
	}

	/**
	 * Whether Most viewed boxes may list the post: published and without a password.
	 *
	 * @param WP_Post $post The post.
	 * @return bool
	 */
	public static function is_listed( $post ) {
		$listed = $post instanceof WP_Post
			&& in_array( $post->post_type, self::post_types(), true )
			&& 'publish' === $post->post_status
			&& '' === $post->post_password;
		return (bool) apply_filters( 'ranker_mv_listed', $listed, $post );
	}

	/**
	 * After a post is saved (its terms and meta too): put, hide or delete it in the catalog.
	 *
	 * @param int          $post_id     The post's id.
	 * @param WP_Post      $post        The post as saved.
	 * @param bool         $update      Whether it existed before.
	 * @param WP_Post|null $post_before The post before, for an update.
	 */
	public static function saved( $post_id, $post, $update, $post_before ) {
		if ( ! $post instanceof WP_Post || wp_is_post_revision( $post ) || wp_is_post_autosave( $post ) ) {
			return;
		}
		if ( ! in_array( $post->post_type, self::post_types(), true ) ) {
			return;
		}
		$was_listed = $post_before instanceof WP_Post && self::is_listed( $post_before );
		if ( self::is_listed( $post ) ) {
			self::change( $post_id, 'put' );
		} elseif ( 'trash' === $post->post_status ) {
			if ( ! $post_before instanceof WP_Post || 'trash' !== $post_before->post_status ) {
				self::change( $post_id, 'delete' );
			}
		} elseif ( $was_listed ) {
			self::change( $post_id, 'hide' );
		}
	}

	/**
	 * Before a post is deleted for good: delete it from the catalog (a trashed one was
	 * deleted when it was trashed).
	 *
	 * @param int     $post_id The post's id.
	 * @param WP_Post $post    The post.
	 */
	public static function deleting( $post_id, $post ) {
		if ( $post instanceof WP_Post && 'trash' !== $post->post_status
			&& in_array( $post->post_type, self::post_types(), true ) ) {
			self::change( $post_id, 'delete' );
		}
	}

	/**
	 * Pushes a change now; it replaces any change of the post still queued.
	 *
	 * @param int    $post_id The post's id.
	 * @param string $op      "put", "hide" or "delete".
	 */
	public static function change( $post_id, $op ) {
		if ( ! Ranker_MV_Settings::can_catalog() ) {
			return;
		}
		$queue = self::queue();
		unset( $queue[ (string) $post_id ] );
		self::save_queue( $queue );
		self::settle( (int) $post_id, $op, 1, self::push( (int) $post_id, $op ), time() );
	}

	/**
	 * Tries the queued pushes that are due (at most BATCH), then schedules the next run.
	 *
	 * @param int|null $now Unix seconds; the current time when null.
	 */
	public static function run_queue( $now = null ) {
		$now   = null === $now ? time() : (int) $now;
		$queue = self::queue();
		uasort(
			$queue,
			function ( $a, $b ) {
				return $a['next'] <=> $b['next'];
			}
		);
		$tried = 0;
		foreach ( $queue as $post_id => $item ) {
			if ( $item['next'] > $now || $tried >= self::BATCH || ! Ranker_MV_Settings::can_catalog() ) {
				break;
			}
			++$tried;
			$current = self::queue();
			unset( $current[ (string) $post_id ] );
			self::save_queue( $current );
			$result = self::push( (int) $post_id, $item['op'] );
			self::settle( (int) $post_id, $item['op'], $item['attempts'] + 1, $result, time() );
		}
		self::schedule();
	}

	/**
	 * Sends one change: the outcome ("done", "retry", "failed") and a message.
	 *
	 * @param int    $post_id The post's id.
	 * @param string $op      "put", "hide" or "delete".
	 * @return array
	 */
	private static function push( $post_id, $op ) {
		$settings = Ranker_MV_Settings::get();
		$entry    = null;
		if ( 'put' === $op ) {
			$post = get_post( $post_id );
			if ( ! self::is_listed( $post ) ) {
				// Unpublished since: what a queued put becomes.
				$op = $post instanceof WP_Post ? 'hide' : 'delete';
			} else {
				try {
					$entry = self::entry( $post );
				} catch ( Ranker_MV_Invalid $e ) {
					return array(
						'outcome' => 'failed',
						'message' => $e->getMessage(),
					);
				}
			}
		}
		$request = Ranker_MV_Core::request( $settings['url'], $settings['site'], $settings['token'], $op, (string) $post_id, $entry );
		return self::send( $op, $request );
	}

	/**
	 * Sends a request made by Ranker_MV_Core and reads its answer.
	 *
	 * @param string $op      The request's op.
	 * @param array  $request method, url, headers, body.
	 * @return array outcome and message.
	 */
	private static function send( $op, $request ) {
		$response = wp_remote_request(
			$request['url'],
			array(
				'method'      => $request['method'],
				'headers'     => $request['headers'],
				'body'        => '' === $request['body'] ? null : $request['body'],
				'timeout'     => self::TIMEOUT,
				'redirection' => 0,
			)
		);
		if ( is_wp_error( $response ) ) {
			return Ranker_MV_Core::outcome( $op, 0, $response->get_error_message() );
		}
		$body = (string) wp_remote_retrieve_body( $response );
		return array( 'body' => $body ) + Ranker_MV_Core::outcome( $op, (int) wp_remote_retrieve_response_code( $response ), $body );
	}

	/**
	 * Files the outcome of a push: done, queued for its next try, or reported.
	 *
	 * @param int    $post_id  The post's id.
	 * @param string $op       The change.
	 * @param int    $attempts Tries so far, this one included.
	 * @param array  $result   outcome and message.
	 * @param int    $now      Unix seconds.
	 */
	private static function settle( $post_id, $op, $attempts, $result, $now ) {
		$status = self::status();
		if ( 'done' === $result['outcome'] ) {
			$status['last_ok'] = $now;
			update_option( self::STATUS, $status, false );
			return;
		}
		$delay = 'retry' === $result['outcome'] ? Ranker_MV_Core::retry_delay( $attempts ) : null;
		if ( null !== $delay ) {
			$queue                      = self::queue();
			$queue[ (string) $post_id ] = array(
				'op'       => $op,
				'attempts' => $attempts,
				'next'     => $now + $delay,
				'error'    => $result['message'],
			);
			self::save_queue( $queue );
			self::schedule();
		}
		$status['last_error'] = array(
			'at'       => $now,
			'post'     => $post_id,
			'op'       => $op,
			'message'  => $result['message'],
			'given_up' => null === $delay,
		);
		update_option( self::STATUS, $status, false );
	}

	/**
	 * The catalog entry of a post (Ranker_MV_Core::entry of its fields).
	 *
	 * @param WP_Post $post The post.
	 * @return array
	 * @throws Ranker_MV_Invalid When it has no usable link.
	 */
	public static function entry( $post ) {
		$category = self::primary_category( $post );
		$tags     = get_the_tags( $post->ID );
		$title    = get_the_title( $post );
		$image    = get_the_post_thumbnail_url( $post, 'large' );
		$data     = array(
			'title'     => '' !== trim( wp_strip_all_tags( $title ) ) ? $title : __( '(no title)', 'ranker-most-viewed' ),
			'url'       => get_permalink( $post ),
			'published' => (int) get_post_time( 'U', true, $post ),
			'section'   => $category ? Ranker_MV_Core::section( $category->slug, $category->term_id ) : null,
			'summary'   => has_excerpt( $post ) ? $post->post_excerpt : '',
			'image'     => $image ? $image : null,
			'authors'   => array( get_the_author_meta( 'display_name', (int) $post->post_author ) ),
			'tags'      => is_array( $tags ) ? wp_list_pluck( $tags, 'name' ) : array(),
		);
		return Ranker_MV_Core::entry( (array) apply_filters( 'ranker_mv_entry_data', $data, $post ) );
	}

	/**
	 * The post's primary category: the one Yoast SEO marks so, else its first.
	 *
	 * @param WP_Post $post The post.
	 * @return WP_Term|null
	 */
	private static function primary_category( $post ) {
		$primary = (int) get_post_meta( $post->ID, '_yoast_wpseo_primary_category', true );
		if ( $primary > 0 && has_term( $primary, 'category', $post ) ) {
			$term = get_term( $primary, 'category' );
			if ( $term instanceof WP_Term ) {
				return $term;
			}
		}
		$categories = get_the_terms( $post, 'category' );
		return is_array( $categories ) && $categories ? reset( $categories ) : null;
	}

	/**
	 * Catalogs the published posts in bulk (the import endpoint, SYNC_BATCH at a time),
	 * for a site that had posts before the plugin: from the post after `ranker_mv_sync`'s
	 * cursor, for up to 20 seconds, then again from WP-Cron until every one is sent.
	 */
	public static function sync() {
		if ( ! Ranker_MV_Settings::can_catalog() ) {
			return;
		}
		$settings = Ranker_MV_Settings::get();
		$state    = get_option( self::SYNC, array() );
		$after    = isset( $state['after'] ) ? (int) $state['after'] : 0;
		$sent     = isset( $state['sent'] ) ? (int) $state['sent'] : 0;
		$errors   = isset( $state['errors'] ) ? (array) $state['errors'] : array();
		$deadline = microtime( true ) + 20;
		while ( microtime( true ) < $deadline ) {
			$ids = self::published_after( $after );
			if ( ! $ids ) {
				update_option( self::SYNC, array( 'done' => time(), 'sent' => $sent, 'errors' => array_slice( $errors, 0, 20 ) ), false );
				return;
			}
			$entries = array();
			foreach ( $ids as $id ) {
				try {
					$entries[ (string) $id ] = self::entry( get_post( $id ) );
				} catch ( Ranker_MV_Invalid $e ) {
					$errors[] = '#' . $id . ': ' . $e->getMessage();
				}
			}
			$result = array(
				'outcome' => 'done',
				'body'    => '',
			);
			if ( $entries ) {
				$result = self::send( 'import', Ranker_MV_Core::import_request( $settings['url'], $settings['site'], $settings['token'], $entries ) );
			}
			if ( 'done' !== $result['outcome'] ) {
				$errors[] = $result['message'];
				update_option( self::SYNC, compact( 'after', 'sent', 'errors' ), false );
				if ( 'retry' === $result['outcome'] ) {
					wp_schedule_single_event( time() + Ranker_MV_Core::FIRST_DELAY, self::SYNC );
				}
				return;
			}
			$answer = json_decode( $result['body'], true );
			$lines  = array_keys( $entries );
			foreach ( isset( $answer['errors'] ) && is_array( $answer['errors'] ) ? $answer['errors'] : array() as $error ) {
				$line     = isset( $error['line'], $lines[ $error['line'] - 1 ] ) ? $lines[ $error['line'] - 1 ] : '?';
				$errors[] = '#' . $line . ': ' . Ranker_MV_Core::text( isset( $error['error'] ) ? $error['error'] : '', 200 );
			}
			$after = (int) end( $ids );
			$sent += count( $entries );
			update_option( self::SYNC, compact( 'after', 'sent', 'errors' ), false );
		}
		wp_schedule_single_event( time(), self::SYNC );
	}

	/**
	 * The ids of the next SYNC_BATCH listed posts after `$after`, in id order.
	 *
	 * @param int $after A post id.
	 * @return array
	 */
	private static function published_after( $after ) {
		global $wpdb;
		$types        = self::post_types();
		$placeholders = implode( ', ', array_fill( 0, count( $types ), '%s' ) );
		// phpcs:ignore WordPress.DB.DirectDatabaseQuery, WordPress.DB.PreparedSQLPlaceholders.UnfinishedPrepare
		$ids = $wpdb->get_col( $wpdb->prepare( "SELECT ID FROM {$wpdb->posts} WHERE ID > %d AND post_status = 'publish' AND post_password = '' AND post_type IN ($placeholders) ORDER BY ID LIMIT %d", array_merge( array( $after ), $types, array( self::SYNC_BATCH ) ) ) );
		return array_values( array_filter( array_map( 'intval', $ids ), array( __CLASS__, 'listed_id' ) ) );
	}

	/**
	 * Whether the post with this id is listed (the ranker_mv_listed filter included).
	 *
	 * @param int $id A post id.
	 * @return bool
	 */
	private static function listed_id( $id ) {
		return self::is_listed( get_post( $id ) );
	}

	/**
	 * The form's "Retry now": every queued push tried at once.
	 */
	public static function retry_now() {
		self::check_request( 'ranker_mv_retry' );
		self::run_queue( PHP_INT_MAX );
		self::back();
	}

	/**
	 * The form's "Catalog published posts": a bulk sync from the first post.
	 */
	public static function sync_now() {
		self::check_request( 'ranker_mv_sync' );
		delete_option( self::SYNC );
		wp_clear_scheduled_hook( self::SYNC );
		self::sync();
		self::back();
	}

	/**
	 * Stops a request without the capability or the form's nonce.
	 *
	 * @param string $action The nonce's action.
	 */
	private static function check_request( $action ) {
		if ( ! current_user_can( 'manage_options' ) ) {
			wp_die( esc_html__( 'You may not change Ranker\'s settings.', 'ranker-most-viewed' ), 403 );
		}
		check_admin_referer( $action, 'ranker_mv_nonce' );
	}

	/**
	 * Back to the settings page.
	 */
	private static function back() {
		wp_safe_redirect( admin_url( 'options-general.php?page=' . Ranker_MV_Settings::PAGE ) );
		exit;
	}

	/**
	 * How the pushes went, below the settings form.
	 */
	public static function render_status() {
		$queue  = self::queue();
		$status = self::status();
		$sync   = get_option( self::SYNC, array() );
		$format = get_option( 'date_format' ) . ' ' . get_option( 'time_format' );
		?>
		<h2><?php esc_html_e( 'Catalog', 'ranker-most-viewed' ); ?></h2>
		<p class="ranker-mv-queue">
			<?php
			if ( $queue ) {
				$next = min( wp_list_pluck( $queue, 'next' ) );
				/* translators: 1: number of changes, 2: date and time. */
				echo esc_html( sprintf( _n( '%1$d change waits to be sent again; next try %2$s.', '%1$d changes wait to be sent again; next try %2$s.', count( $queue ), 'ranker-most-viewed' ), count( $queue ), wp_date( $format, $next ) ) );
			} else {
				esc_html_e( 'No change waits to be sent.', 'ranker-most-viewed' );
			}
			?>
		</p>
		<?php if ( ! empty( $status['last_ok'] ) ) : ?>
			<p><?php echo esc_html( sprintf( /* translators: %s: date and time. */ __( 'Last change sent: %s.', 'ranker-most-viewed' ), wp_date( $format, $status['last_ok'] ) ) ); ?></p>
		<?php endif; ?>
		<?php if ( ! empty( $status['last_error'] ) ) : ?>
			<?php $error = $status['last_error']; ?>
			<div class="notice notice-warning inline ranker-mv-error"><p>
				<?php
				/* translators: 1: date and time, 2: post id, 3: put, hide or delete, 4: what went wrong. */
				echo esc_html( sprintf( __( 'Last failure, %1$s, post #%2$d (%3$s): %4$s', 'ranker-most-viewed' ), wp_date( $format, $error['at'] ), $error['post'], $error['op'], $error['message'] ) );
				if ( ! empty( $error['given_up'] ) ) {
					echo ' ' . esc_html__( 'Not retried: fix the cause, then update the post.', 'ranker-most-viewed' );
				}
				?>
			</p></div>
		<?php endif; ?>
		<?php if ( ! empty( $sync ) ) : ?>
			<p class="ranker-mv-sync">
				<?php
				$sent = isset( $sync['sent'] ) ? (int) $sync['sent'] : 0;
				if ( ! empty( $sync['done'] ) ) {
					/* translators: 1: number of posts, 2: date and time. */
					echo esc_html( sprintf( __( 'Bulk catalog: %1$d posts sent, finished %2$s.', 'ranker-most-viewed' ), $sent, wp_date( $format, $sync['done'] ) ) );
				} else {
					/* translators: %d: number of posts. */
					echo esc_html( sprintf( __( 'Bulk catalog under way: %d posts sent so far.', 'ranker-most-viewed' ), $sent ) );
				}
				foreach ( isset( $sync['errors'] ) ? (array) $sync['errors'] : array() as $message ) {
					echo '<br>' . esc_html( $message );
				}
				?>
			</p>
		<?php endif; ?>
		<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" style="display:inline">
			<input type="hidden" name="action" value="ranker_mv_sync">
			<?php wp_nonce_field( 'ranker_mv_sync', 'ranker_mv_nonce' ); ?>
			<?php submit_button( __( 'Catalog published posts', 'ranker-most-viewed' ), 'secondary', 'ranker-mv-sync', false ); ?>
		</form>
		<?php if ( $queue ) : ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'admin-post.php' ) ); ?>" style="display:inline">
				<input type="hidden" name="action" value="ranker_mv_retry">
				<?php wp_nonce_field( 'ranker_mv_retry', 'ranker_mv_nonce' ); ?>
				<?php submit_button( __( 'Retry now', 'ranker-most-viewed' ), 'secondary', 'ranker-mv-retry', false ); ?>
			</form>
		<?php endif; ?>
		<?php
	}

	/**
	 * The queued pushes: post id => op, attempts, next (unix s), error.
	 *
	 * @return array
	 */
	public static function queue() {
		$queue = get_option( self::QUEUE, array() );
		return is_array( $queue ) ? $queue : array();
	}

	/**
	 * Stores the queue (not autoloaded: only cron runs and the settings page read it).
	 *
	 * @param array $queue The queue.
	 */
	private static function save_queue( $queue ) {
		update_option( self::QUEUE, $queue, false );
	}

	/**
	 * The report: last_ok (unix s) and last_error.
	 *
	 * @return array
	 */
	private static function status() {
		$status = get_option( self::STATUS, array() );
		return is_array( $status ) ? $status : array();
	}

	/**
	 * Schedules a cron run for the earliest queued push, unless one is due before it.
	 */
	private static function schedule() {
		$queue = self::queue();
		if ( ! $queue ) {
			wp_clear_scheduled_hook( self::HOOK );
			return;
		}
		$next      = (int) min( wp_list_pluck( $queue, 'next' ) );
		$scheduled = wp_next_scheduled( self::HOOK );
		if ( false !== $scheduled && $scheduled <= $next ) {
			return;
		}
		wp_clear_scheduled_hook( self::HOOK );
		wp_schedule_single_event( $next, self::HOOK );
	}
}
