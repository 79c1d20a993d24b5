<?php
/**
 * What readers get: the beacon on each listed post (its id and a token signed for it), and
 * the Most viewed box as a block and as the [ranker_most_viewed] shortcode, both drawn by
 * Ranker's widget.js.
 *
 * @package RankerMostViewed
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The beacon, the block and the shortcode.
 */
final class Ranker_MV_Front {

	const WIDGET = 'ranker-mv-widget';

	/**
	 * Hooks the beacon, and registers the block and the shortcode.
	 */
	public static function init() {
		add_action( 'wp_head', array( __CLASS__, 'beacon' ) );
		add_action( 'init', array( __CLASS__, 'register' ) );
	}

	/**
	 * Registers the block (block/block.json) and the shortcode.
	 */
	public static function register() {
		register_block_type( RANKER_MV_DIR . '/block', array( 'render_callback' => array( __CLASS__, 'render_block' ) ) );
		add_shortcode( 'ranker_most_viewed', array( __CLASS__, 'shortcode' ) );
	}

	/**
	 * The beacon tag in the head of a listed post's page: beacon.js from Ranker, with the
	 * site, the post's id and a token signed for it (so its views count even before the
	 * catalog has it).
	 */
	public static function beacon() {
		if ( ! is_singular( Ranker_MV_Catalog::post_types() ) || ! Ranker_MV_Settings::can_count() ) {
			return;
		}
		$post = get_queried_object();
		if ( ! Ranker_MV_Catalog::is_listed( $post ) ) {
			return;
		}
		$settings   = Ranker_MV_Settings::get();
		$id         = (string) $post->ID;
		$attributes = array(
			'src'       => $settings['url'] . '/beacon.js',
			'data-site' => $settings['site'],
			'data-id'   => $id,
		);
		$key = Ranker_MV_Core::signing_key( $settings['token'], $settings['secret'] );
		if ( '' !== $key ) {
			$expires                  = Ranker_MV_Core::token_expiry( time() );
			$attributes['data-token'] = Ranker_MV_Core::sign( $key, $settings['site'], $id, $expires );
		}
		$attributes['async'] = true;
		wp_print_script_tag( $attributes );
	}

	/**
	 * [ranker_most_viewed window="24h" section="" n="5" exclude_current="true" title="…"
	 * placement=""]
	 *
	 * @param array|string $atts The shortcode's attributes.
	 * @return string
	 */
	public static function shortcode( $atts ) {
		$atts = shortcode_atts(
			array(
				'window'          => '24h',
				'section'         => '',
				'n'               => '5',
				'exclude_current' => 'true',
				'title'           => __( 'Most viewed', 'ranker-most-viewed' ),
				'placement'       => '',
			),
			$atts,
			'ranker_most_viewed'
		);
		return self::box( $atts, '' );
	}

	/**
	 * The block's markup (its attributes as block.json declares them).
	 *
	 * @param array $attributes The block's attributes.
	 * @return string
	 */
	public static function render_block( $attributes ) {
		$attributes = (array) $attributes;
		$settings   = array(
			'window'          => isset( $attributes['window'] ) ? $attributes['window'] : '24h',
			'section'         => isset( $attributes['section'] ) ? $attributes['section'] : '',
			'n'               => isset( $attributes['n'] ) ? $attributes['n'] : 5,
			'exclude_current' => isset( $attributes['excludeCurrent'] ) ? $attributes['excludeCurrent'] : true,
			'title'           => isset( $attributes['title'] ) ? $attributes['title'] : '',
			'placement'       => isset( $attributes['placement'] ) ? $attributes['placement'] : '',
		);
		return self::box( $settings, get_block_wrapper_attributes() );
	}

	/**
	 * A Most viewed box: a container widget.js fills with the list. Wrong settings give an
	 * explanation to those who can edit posts and nothing to readers.
	 *
	 * @param array  $settings window, section, n, exclude_current, title, placement.
	 * @param string $wrapper  The block's wrapper attributes (class, style), or ''.
	 * @return string
	 */
	private static function box( $settings, $wrapper ) {
		if ( ! Ranker_MV_Settings::can_count() ) {
			return self::problem( __( "set Ranker's address and the site under Settings > Ranker.", 'ranker-most-viewed' ) );
		}
		$current = is_singular( Ranker_MV_Catalog::post_types() ) ? get_queried_object_id() : 0;
		try {
			$box = Ranker_MV_Core::box( $settings, Ranker_MV_Settings::get()['site'], $current > 0 ? (string) $current : null );
		} catch ( Ranker_MV_Invalid $e ) {
			return self::problem( $e->getMessage() );
		}
		wp_enqueue_script( self::WIDGET, Ranker_MV_Settings::get()['url'] . '/widget.js', array(), null, true ); // phpcs:ignore WordPress.WP.EnqueuedResourceParameters.MissingVersion -- Ranker serves its own current copy.
		$html = '<div ' . ( '' !== $wrapper ? $wrapper . ' ' : 'class="ranker-most-viewed" ' );
		foreach ( $box as $name => $value ) {
			$html .= '' === $value ? esc_attr( $name ) . ' ' : esc_attr( $name ) . '="' . esc_attr( $value ) . '" ';
		}
		return rtrim( $html ) . '></div>';
	}

	/**
	 * Why a box cannot be shown: said to those who can edit posts, not to readers.
	 *
	 * @param string $message What is wrong.
	 * @return string
	 */
	private static function problem( $message ) {
		if ( ! current_user_can( 'edit_posts' ) ) {
			return '';
		}
		/* translators: %s: what is wrong. */
		$text = sprintf( __( 'Most viewed box (Ranker): %s', 'ranker-most-viewed' ), $message );
		return '<p class="ranker-mv-problem" role="alert">' . esc_html( $text ) . '</p>';
	}
}
