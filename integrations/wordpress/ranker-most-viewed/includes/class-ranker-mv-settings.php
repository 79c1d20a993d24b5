<?php
/**
 * The settings (Ranker's address, the site, its token and secret) and their page under
 * Settings > Ranker. The token and the secret are never written into a page: it says
 * whether each is set, and a new value replaces the stored one.
 *
 * @package RankerMostViewed
 */

if ( ! defined( 'ABSPATH' ) ) {
	exit;
}

/**
 * The settings page and the stored settings.
 */
final class Ranker_MV_Settings {

	const OPTION = 'ranker_mv_settings';
	const GROUP  = 'ranker_mv';
	const PAGE   = 'ranker-most-viewed';
	const SECRET = array( 'token', 'secret' );

	/**
	 * Hooks the page into the admin.
	 */
	public static function init() {
		add_action( 'admin_menu', array( __CLASS__, 'menu' ) );
		add_action( 'admin_init', array( __CLASS__, 'register' ) );
		add_filter( 'plugin_action_links_' . plugin_basename( RANKER_MV_FILE ), array( __CLASS__, 'action_links' ) );
	}

	/**
	 * The stored settings, every key present.
	 *
	 * @return array url, site, token, secret.
	 */
	public static function get() {
		$stored = get_option( self::OPTION, array() );
		$values = array();
		foreach ( array( 'url', 'site', 'token', 'secret' ) as $key ) {
			$values[ $key ] = is_array( $stored ) && isset( $stored[ $key ] ) && is_string( $stored[ $key ] ) ? $stored[ $key ] : '';
		}
		return $values;
	}

	/**
	 * Whether Ranker's address and the site are set (enough to count views and show boxes).
	 *
	 * @return bool
	 */
	public static function can_count() {
		$settings = self::get();
		return '' !== $settings['url'] && '' !== $settings['site'];
	}

	/**
	 * Whether the catalog can be written too (the token is set).
	 *
	 * @return bool
	 */
	public static function can_catalog() {
		return self::can_count() && '' !== self::get()['token'];
	}

	/**
	 * Adds Settings > Ranker.
	 */
	public static function menu() {
		add_options_page(
			__( 'Ranker Most Viewed', 'ranker-most-viewed' ),
			__( 'Ranker', 'ranker-most-viewed' ),
			'manage_options',
			self::PAGE,
			array( __CLASS__, 'render' )
		);
	}

	/**
	 * A "Settings" link beside the plugin's name on the Plugins screen.
	 *
	 * @param array $links The plugin's links.
	 * @return array
	 */
	public static function action_links( $links ) {
		$url = admin_url( 'options-general.php?page=' . self::PAGE );
		array_unshift( $links, '<a href="' . esc_url( $url ) . '">' . esc_html__( 'Settings', 'ranker-most-viewed' ) . '</a>' );
		return $links;
	}

	/**
	 * Registers the option, checked by sanitize() whenever it is saved.
	 */
	public static function register() {
		register_setting(
			self::GROUP,
			self::OPTION,
			array(
				'type'              => 'array',
				'sanitize_callback' => array( __CLASS__, 'sanitize' ),
				'show_in_rest'      => false,
				'default'           => array(),
			)
		);
	}

	/**
	 * The settings to store from what the form sent: each value checked, a wrong one kept
	 * as it was with an error saying why; an empty token or secret field keeps the stored
	 * one, and the "remove" box clears it.
	 *
	 * @param mixed $input The form's fields.
	 * @return array The settings to store.
	 */
	public static function sanitize( $input ) {
		$old   = self::get();
		$input = is_array( $input ) ? $input : array(); // options.php has unslashed it.
		$new   = $old;

		$url = isset( $input['url'] ) && is_string( $input['url'] ) ? trim( $input['url'] ) : $old['url'];
		if ( '' === $url || self::is_ranker_url( $url ) ) {
			$new['url'] = untrailingslashit( $url );
		} else {
			self::error( 'url', __( "Ranker's address: an http:// or https:// address such as https://ranker.example.com, with no path or query. It was not changed.", 'ranker-most-viewed' ) );
		}

		$site = isset( $input['site'] ) && is_string( $input['site'] ) ? strtolower( trim( $input['site'] ) ) : $old['site'];
		if ( '' === $site || preg_match( Ranker_MV_Core::NAME_PATTERN, $site ) ) {
			$new['site'] = $site;
		} else {
			self::error( 'site', __( "Site: the site's name in Ranker's configuration (1-32 of a-z, 0-9, _ and -). It was not changed.", 'ranker-most-viewed' ) );
		}

		foreach ( self::SECRET as $key ) {
			$given = isset( $input[ $key ] ) && is_string( $input[ $key ] ) ? trim( $input[ $key ] ) : '';
			if ( ! empty( $input[ $key . '_clear' ] ) ) {
				$new[ $key ] = '';
			} elseif ( '' !== $given ) {
				if ( preg_match( '/^[\x21-\x7e]{24,512}$/D', $given ) ) {
					$new[ $key ] = $given;
				} else {
					/* translators: %s: "Token" or "Secret". */
					$message = __( '%s: at least 24 characters without spaces, such as the output of `ranker token`. The stored value was kept.', 'ranker-most-viewed' );
					self::error( $key, sprintf( $message, 'token' === $key ? __( 'Token', 'ranker-most-viewed' ) : __( 'Secret', 'ranker-most-viewed' ) ) );
				}
			}
		}
		return $new;
	}

	/**
	 * Whether `$url` can be Ranker's address: http(s) and a host (and port), nothing more,
	 * since beacon.js and widget.js send to the origin they were loaded from.
	 *
	 * @param string $url The address.
	 * @return bool
	 */
	private static function is_ranker_url( $url ) {
		$parts = wp_parse_url( $url );
		return is_array( $parts )
			&& isset( $parts['scheme'], $parts['host'] )
			&& in_array( strtolower( $parts['scheme'] ), array( 'http', 'https' ), true )
			&& ! isset( $parts['query'] ) && ! isset( $parts['fragment'] ) && ! isset( $parts['user'] )
			&& ( ! isset( $parts['path'] ) || '/' === $parts['path'] )
			&& esc_url_raw( $url, array( 'http', 'https' ) ) === $url;
	}

	/**
	 * Notes a setting that was not stored; shown above the form.
	 *
	 * @param string $field   The setting.
	 * @param string $message What is wrong.
	 */
	private static function error( $field, $message ) {
		add_settings_error( self::OPTION, 'ranker_mv_' . $field, $message, 'error' );
	}

	/**
	 * The page: the form (options.php checks the nonce and manage_options), then how the
	 * catalog pushes went.
	 */
	public static function render() {
		if ( ! current_user_can( 'manage_options' ) ) {
			return;
		}
		$settings = self::get();
		?>
		<div class="wrap">
			<h1><?php esc_html_e( 'Ranker Most Viewed', 'ranker-most-viewed' ); ?></h1>
			<?php settings_errors( self::OPTION ); ?>
			<form method="post" action="<?php echo esc_url( admin_url( 'options.php' ) ); ?>" autocomplete="off">
				<?php settings_fields( self::GROUP ); ?>
				<table class="form-table" role="presentation">
					<tr>
						<th scope="row"><label for="ranker-mv-url"><?php esc_html_e( "Ranker's address", 'ranker-most-viewed' ); ?></label></th>
						<td>
							<input type="url" class="regular-text code" id="ranker-mv-url" name="<?php echo esc_attr( self::OPTION ); ?>[url]" value="<?php echo esc_attr( $settings['url'] ); ?>" placeholder="https://ranker.example.com">
							<p class="description"><?php esc_html_e( 'Where your Ranker server answers; readers\' browsers load beacon.js and widget.js from it.', 'ranker-most-viewed' ); ?></p>
						</td>
					</tr>
					<tr>
						<th scope="row"><label for="ranker-mv-site"><?php esc_html_e( 'Site', 'ranker-most-viewed' ); ?></label></th>
						<td>
							<input type="text" class="regular-text code" id="ranker-mv-site" name="<?php echo esc_attr( self::OPTION ); ?>[site]" value="<?php echo esc_attr( $settings['site'] ); ?>" placeholder="news" pattern="[a-z0-9][a-z0-9_\-]{0,31}">
							<p class="description"><?php esc_html_e( 'The name of the [sites.NAME] table in ranker.toml.', 'ranker-most-viewed' ); ?></p>
						</td>
					</tr>
					<?php self::secret_row( 'token', __( 'Token', 'ranker-most-viewed' ), __( "The site's token: the plugin writes the catalog with it.", 'ranker-most-viewed' ), $settings ); ?>
					<?php self::secret_row( 'secret', __( 'Secret', 'ranker-most-viewed' ), __( "The site's secret (sites.NAME.secret), if Ranker has one: pages carry tokens signed with it, so a post's views count before Ranker has it in the catalog. Without one, the key Ranker derives from the token is used.", 'ranker-most-viewed' ), $settings ); ?>
				</table>
				<?php submit_button(); ?>
			</form>
			<?php Ranker_MV_Catalog::render_status(); ?>
		</div>
		<?php
	}

	/**
	 * A row for the token or the secret: whether it is set, never its value.
	 *
	 * @param string $key      "token" or "secret".
	 * @param string $label    The row's label.
	 * @param string $help     What it is.
	 * @param array  $settings The stored settings.
	 */
	private static function secret_row( $key, $label, $help, $settings ) {
		$set  = '' !== $settings[ $key ];
		$name = self::OPTION . '[' . $key . ']';
		?>
		<tr>
			<th scope="row"><label for="ranker-mv-<?php echo esc_attr( $key ); ?>"><?php echo esc_html( $label ); ?></label></th>
			<td>
				<input type="password" class="regular-text code" id="ranker-mv-<?php echo esc_attr( $key ); ?>" name="<?php echo esc_attr( $name ); ?>" value="" autocomplete="new-password" placeholder="<?php echo esc_attr( $set ? __( 'set: type a new one to replace it', 'ranker-most-viewed' ) : __( 'not set', 'ranker-most-viewed' ) ); ?>">
				<strong class="ranker-mv-state" data-state="<?php echo esc_attr( $set ? 'set' : 'unset' ); ?>"><?php echo esc_html( $set ? __( 'Set', 'ranker-most-viewed' ) : __( 'Not set', 'ranker-most-viewed' ) ); ?></strong>
				<?php if ( $set ) : ?>
					<label><input type="checkbox" name="<?php echo esc_attr( self::OPTION . '[' . $key . '_clear]' ); ?>" value="1"> <?php esc_html_e( 'Remove', 'ranker-most-viewed' ); ?></label>
				<?php endif; ?>
				<p class="description"><?php echo esc_html( $help ); ?></p>
			</td>
		</tr>
		<?php
	}
}
